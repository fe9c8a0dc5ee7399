"""Findings about the practices' matters: what a lawyer must record for gstjobs to help.

- a hearing past for more than a day still marked Scheduled, with no later hearing of
  the matter: its outcome was never recorded (issue: unrecorded outcomes are chased);
- an open proceeding whose statutory dates cannot be computed, or only on an
  assumption (``DATA_MISSING``: silence is never acceptable);
- a row holding a value outside the contract's (``DATA_UNKNOWN``: an upcoming hearing
  whose status is not one gstjobs knows gets no reminder, and nothing else would say so).

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


UNREADABLE = text(
    """
    WITH odd AS (
        SELECT h.tenant_id, 'hearing status' AS what, h.status AS value,
               'no reminder' AS effect,
               'Scheduled, Attended, Adjourned, Missed, Cancelled' AS allowed
        FROM hearings h
        WHERE h.tenant_id = ANY(:tenants)
          AND COALESCE(h.status, '') NOT IN ('Scheduled', 'Attended', 'Adjourned', 'Missed',
                                             'Cancelled')
          AND h.hearing_date >= CAST(:now AS timestamptz) - interval '1 day'
        UNION ALL
        -- tasks read once for both columns
        SELECT t.tenant_id, x.what, x.value, x.effect, x.allowed
        FROM tasks t
        CROSS JOIN LATERAL (VALUES
            ('task status', t.status, 'treated as open',
             'Pending, In Progress, Completed, Cancelled',
             COALESCE(t.status, '') NOT IN ('Pending', 'In Progress', 'Completed', 'Cancelled')),
            ('task priority', t.priority, 'no SLA check', 'Critical, High, Medium, Low',
             COALESCE(t.priority, '') NOT IN ('Critical', 'High', 'Medium', 'Low')
             AND COALESCE(t.status, '') NOT IN ('Completed', 'Cancelled'))
        ) AS x (what, value, effect, allowed, odd)
        WHERE t.tenant_id = ANY(:tenants) AND x.odd
        UNION ALL
        SELECT c.tenant_id, 'case status', c.status, 'treated as open', 'Active, Closed'
        FROM cases c
        WHERE c.tenant_id = ANY(:tenants) AND COALESCE(c.status, '') NOT IN ('Active', 'Closed')
        UNION ALL
        SELECT u.tenant_id, 'user role', u.role, 'not told as a partner',
               'admin, advocate, staff'
        FROM users u
        WHERE u.tenant_id = ANY(:tenants) AND u.is_active
          AND COALESCE(u.role, '') NOT IN ('admin', 'advocate', 'staff')
    )
    SELECT tenant_id, what, effect, allowed, count(*) AS n,
           array_agg(DISTINCT COALESCE(value, 'NULL') ORDER BY COALESCE(value, 'NULL'))
               AS seen
    FROM odd GROUP BY tenant_id, what, effect, allowed ORDER BY tenant_id, what
    """
)
"""Rows holding a value outside the contract's (an existing database's legacy values,
kept by migration 015): gstjobs reads them as it finds them, and says what that costs."""


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
                f"on an assumption: {r.example}{more}; see gstjobs limitation missing",
                r.tenant_id,
            )
        )
    for r in conn.execute(UNREADABLE, {"tenants": list(tenants), "now": now}):
        seen = ", ".join(r.seen[:5]) + (", …" if len(r.seen) > 5 else "")
        out.append(
            Finding(
                "WARNING",
                f"practice {str(r.tenant_id)[:8]} DATA_UNKNOWN",
                f"{r.n:,} row(s) with a {r.what} gstjobs does not know ({seen}): {r.effect}; "
                f"use one of {r.allowed}",
                r.tenant_id,
            )
        )
    return out
