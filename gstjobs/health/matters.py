"""Findings about the practices' matters: what a lawyer must record for gstjobs to help.

- a hearing past for more than a day still marked Scheduled, with no later hearing of
  the matter: its outcome was never recorded (issue: unrecorded outcomes are chased);
- an open proceeding whose statutory dates cannot be computed, or only on an
  assumption (``DATA_MISSING``: silence is never acceptable).

One finding per practice and kind (a count, the oldest example by matter reference),
so a monitoring check stays readable at a thousand practices. Matters of closed cases
are left alone. References and dates only, never a client's or a person's name.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, text

from gstjobs.health.automation import Finding
from gstjobs.limitation.findings import MISSING_CTE

UNRECORDED = text(
    """
    WITH past AS (
        SELECT h.tenant_id, h.hearing_date, c.case_number
        FROM hearings h
        JOIN cases c ON c.id = h.case_id AND c.tenant_id = h.tenant_id AND c.status <> 'Closed'
        WHERE h.tenant_id = ANY(:tenants) AND h.status = 'Scheduled'
          AND h.hearing_date < CAST(:now AS timestamptz) - interval '24 hours'
          AND isfinite(h.hearing_date)
          AND NOT EXISTS (SELECT 1 FROM hearings n
                          WHERE n.case_id = h.case_id AND n.tenant_id = h.tenant_id
                            AND n.hearing_date > h.hearing_date)
    )
    SELECT tenant_id, count(*) AS n,
           (array_agg(case_number ORDER BY hearing_date))[1] AS first_case,
           min(hearing_date) AS first_date
    FROM past GROUP BY tenant_id ORDER BY tenant_id
    """
)
MISSING = text(
    f"""
    WITH {MISSING_CTE}
    SELECT m.tenant_id, count(*) AS n,
           (array_agg(c.case_number || ' (' || replace(m.kind, '_', '-') || ': '
                      || m.items[1] || ')' ORDER BY c.case_number))[1] AS example
    FROM missing m
    JOIN cases c ON c.id = m.case_id AND c.tenant_id = m.tenant_id AND c.status <> 'Closed'
    WHERE cardinality(m.items) > 0
    GROUP BY m.tenant_id ORDER BY m.tenant_id
    """
)


def findings(conn: Connection, tenants: Sequence[object], now: datetime) -> list[Finding]:
    out = []
    for r in conn.execute(UNRECORDED, {"tenants": list(tenants), "now": now}):
        more = f" and {r.n - 1:,} more" if r.n > 1 else ""
        out.append(
            Finding(
                "WARNING",
                f"practice {str(r.tenant_id)[:8]} hearings",
                f"{r.n:,} hearing(s) past with no outcome recorded: {r.first_case} on "
                f"{r.first_date:%d-%m-%Y}{more}; record Attended, Adjourned (with the next "
                "date) or Missed",
                r.tenant_id,
            )
        )
    for r in conn.execute(MISSING, {"tenants": list(tenants)}):
        more = f" and {r.n - 1:,} more" if r.n > 1 else ""
        out.append(
            Finding(
                "WARNING",
                f"practice {str(r.tenant_id)[:8]} DATA_MISSING",
                f"{r.n:,} open proceeding(s) whose statutory dates cannot be computed or rest "
                f"on an assumption: {r.example}{more}; see gstjobs limitation list",
                r.tenant_id,
            )
        )
    return out
