"""Findings for a lawyer or an admin: what the watch cannot compute, and what it found.

Silence is never acceptable: a proceeding whose dates cannot be computed (no
communication date, no financial year, no amounts for the pre-deposit, no reply date in
a DRC-01A, no annual-return due date loaded for its FY) is a ``DATA_MISSING`` finding:
counted per practice by the health report and the admins' daily findings, listed one by
one by ``data_missing`` (``gstjobs limitation missing``). The
job counts them as ``inputsMissing``. ``hearings_without_outcome`` lists hearings past
for more than 24 hours still marked Scheduled (no outcome, no next date recorded).

Findings carry ids and what is missing, never a client's or a person's name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, text

COMMUNICATED_KINDS = (
    "ASMT_10",
    "DRC_01A",
    "ORDER_S73",
    "ORDER_S74",
    "ORDER_S74A",
    "ORDER_OTHER",
    "ORDER_IN_APPEAL",
    "APL_06_NOTICE",
    "GSTAT_ORDER",
    "REMAND_DIRECTION",
)
"""Kinds whose dates run from communication: without it the issue date is assumed."""

MISSING_CTE = f"""
    missing AS (
        SELECT p.tenant_id, p.id AS proceeding_id, p.case_id, p.kind,
               array_remove(ARRAY[
                   CASE WHEN p.communicated_date IS NULL AND p.kind IN {COMMUNICATED_KINDS}
                        THEN 'communication date (issue date assumed)' END,
                   CASE WHEN cardinality(p.financial_years) = 0 AND p.kind LIKE 'SCN_%'
                        THEN 'financial years' END,
                   CASE WHEN p.kind LIKE 'SCN_%' AND EXISTS (
                            SELECT 1 FROM unnest(p.financial_years) AS f (fy)
                            WHERE NOT EXISTS (SELECT 1 FROM annual_return_due_dates a
                                              WHERE a.fy = f.fy))
                        THEN 'annual return due date of its financial year (reference data)' END,
                   CASE WHEN (p.kind LIKE 'ORDER_%') AND p.tax_cgst IS NULL
                             AND p.tax_sgst IS NULL AND p.tax_igst IS NULL AND p.cess IS NULL
                             AND p.penalty IS NULL
                        THEN 'amounts per tax head (for the pre-deposit)' END,
                   CASE WHEN p.kind = 'DRC_01A' AND p.reply_by_date IS NULL
                        THEN 'reply date stated in the intimation' END
               ], NULL) AS items
        FROM proceedings p
        WHERE p.tenant_id = ANY(:tenants) AND p.status = 'open'
          AND NOT EXISTS (SELECT 1 FROM cases k WHERE k.id = p.case_id AND k.status = 'Closed')
    )
"""

SCAN_COUNTS = text(
    f"""
    WITH {MISSING_CTE}
    SELECT count(*) AS scanned, count(*) FILTER (WHERE cardinality(items) > 0) AS missing
    FROM missing
    """
)

DATA_MISSING = text(
    f"""
    WITH {MISSING_CTE}
    SELECT m.tenant_id, m.proceeding_id, c.case_number, m.kind, p.reference_no, m.items
    FROM missing m
    JOIN cases c ON c.id = m.case_id
    JOIN proceedings p ON p.id = m.proceeding_id
    WHERE cardinality(m.items) > 0
    ORDER BY m.tenant_id, c.case_number, m.proceeding_id
    LIMIT :limit
    """
)

HEARINGS_WITHOUT_OUTCOME = text(
    """
    SELECT h.tenant_id, h.id AS hearing_id, h.case_id, h.hearing_date
    FROM hearings h
    WHERE h.tenant_id = ANY(:tenants) AND h.status = 'Scheduled'
      AND h.hearing_date < CAST(:as_of AS timestamptz) - interval '24 hours'
      AND isfinite(h.hearing_date)
      AND NOT EXISTS (SELECT 1 FROM hearings n
                      WHERE n.case_id = h.case_id AND n.tenant_id = h.tenant_id
                        AND n.hearing_date > h.hearing_date)
    ORDER BY h.tenant_id, h.hearing_date
    LIMIT :limit
    """
)


@dataclass(frozen=True)
class Finding:
    """The shape of the health report's findings (level, subject, message, tenant)."""

    level: str
    subject: str
    message: str
    tenant_id: UUID | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "subject": self.subject,
            "message": self.message,
            "tenant_id": str(self.tenant_id) if self.tenant_id else None,
        }


def scan_counts(conn: Connection, tenants: Sequence[object]) -> tuple[int, int]:
    """(open proceedings, those with a missing input) of ``tenants``."""
    row = conn.execute(SCAN_COUNTS, {"tenants": list(tenants)}).one()
    return int(row.scanned), int(row.missing)


@dataclass(frozen=True)
class Missing:
    """An open proceeding whose statutory dates cannot be computed or rest on an
    assumption, and what to enter for them (``gstjobs limitation missing``)."""

    tenant_id: UUID
    proceeding_id: UUID
    case_number: str
    kind: str
    reference_no: str | None
    items: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "tenantId": str(self.tenant_id),
            "proceedingId": str(self.proceeding_id),
            "caseNumber": self.case_number,
            "proceeding": self.kind,
            "referenceNo": self.reference_no,
            "enter": list(self.items),
        }


def data_missing(
    conn: Connection, tenants: Sequence[object], *, limit: int = 10000
) -> list[Missing]:
    """Every open proceeding of ``tenants`` (every practice when empty) whose dates
    cannot be computed or are computed on an assumption, with what to enter, by case
    number. The health report counts them per practice (``DATA_MISSING``) and points
    here."""
    if not tenants:
        tenants = list(conn.execute(text("SELECT id FROM tenants")).scalars())
    return [
        Missing(r.tenant_id, r.proceeding_id, r.case_number, r.kind, r.reference_no, tuple(r.items))
        for r in conn.execute(DATA_MISSING, {"tenants": list(tenants), "limit": limit})
    ]


def hearings_without_outcome(
    conn: Connection, tenants: Sequence[object], as_of: datetime, *, limit: int = 1000
) -> list[Finding]:
    """One WARNING per hearing past for over 24 hours with no outcome and no next date."""
    return [
        Finding(
            "WARNING",
            f"HEARING_OUTCOME_MISSING hearing {r.hearing_id}",
            f"hearing of case {r.case_id} on {r.hearing_date:%d-%m-%Y} is still Scheduled "
            "with no later hearing: record its outcome (Attended, Adjourned with the next "
            "date, Missed).",
            r.tenant_id,
        )
        for r in conn.execute(
            HEARINGS_WITHOUT_OUTCOME, {"tenants": list(tenants), "as_of": as_of, "limit": limit}
        )
    ]
