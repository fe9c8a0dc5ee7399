"""Reading the register: ``gstjobs limitation list`` and the morning digest's blocks.

``list_dates`` is the register view (read only): dates still to act on, soonest first,
with days left in the practice's time zone. ``STATUTORY_ITEMS_CTE`` is one CTE the
morning digest (``deadline-alerts``) can embed to gain its "Statutory dates — next 7
days" and "Overdue / lapsed" blocks per user; ``digest_items`` runs it on its own.
Both show ids, case numbers and dates, never a person's name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, text

LIST = text(
    """
    WITH local AS (
        SELECT tn.id AS tenant_id,
               (CAST(:as_of AS timestamptz) AT TIME ZONE tn.timezone)::date AS today
        FROM tenants tn
        WHERE cardinality(CAST(:tenants AS uuid[])) = 0 OR tn.id = ANY(:tenants)
    )
    SELECT d.tenant_id, d.proceeding_id, d.case_id, c.case_number, p.kind AS proceeding,
           p.reference_no, d.rule_id, r.title, d.fy, d.kind, d.due_date,
           d.due_date - l.today AS days_left, d.outer_date, d.status, d.amount, d.confidence,
           d.notes, d.falls_on_holiday, r.params -> 'slab' ->> p.kind AS slab
    FROM limitation_dates d
    JOIN local l ON l.tenant_id = d.tenant_id
    JOIN proceedings p ON p.id = d.proceeding_id
    JOIN cases c ON c.id = d.case_id
    JOIN limitation_rules r ON r.rule_id = d.rule_id AND r.version = d.rule_version
    WHERE p.status = 'open' AND c.status <> 'Closed'
      AND d.status IN ('open', 'lapsed', 'defence_found')
      AND d.due_date <= l.today + :days
      AND (d.status <> 'lapsed' OR d.outer_date >= l.today OR d.due_date >= l.today - :days)
    ORDER BY d.due_date, d.tenant_id, c.case_number, d.rule_id, d.fy
    LIMIT :limit
    """
)


def file_by(dates: str, proceedings: str, today: str) -> str:
    """SQL: for a date that falls on a holiday, the working day before it in the
    proceeding's state, while that day is not past (else NULL: on the holiday itself the
    portal still takes the filing). ``dates`` and ``proceedings`` are the aliases of
    ``limitation_dates`` and ``proceedings``; ``today`` the practice's local date. The
    limitation alert, its urgency and the morning digest all say the same day."""
    previous = f"gstjobs_previous_working_day({dates}.due_date, {proceedings}.state_code)"
    return f"CASE WHEN {dates}.falls_on_holiday AND {previous} >= {today} THEN {previous} END"


STATUTORY_ITEMS_CTE = f"""
    statutory_items AS (
        -- Per user: the practice's own statutory dates due in the next 7 days
        -- ('next_7_days') and those passed but still condonable or passed in the last
        -- 7 days ('overdue'), for the matters the user owns or appears in; admins also
        -- get every hard and condonable one. Binds :tenants and :as_of.
        SELECT DISTINCT ON (x.tenant_id, x.user_id, x.proceeding_id, x.rule_id, x.fy)
               x.tenant_id, x.user_id, x.block, x.proceeding_id, x.case_id, x.case_number,
               x.rule_id, x.fy, x.title, x.due_date, x.days_left, x.outer_date, x.amount,
               x.file_by
        FROM (
            SELECT d.tenant_id, u.id AS user_id,
                   CASE WHEN d.status = 'lapsed' THEN 'overdue' ELSE 'next_7_days' END
                       AS block,
                   d.proceeding_id, d.case_id, c.case_number, d.rule_id, d.fy, r.title,
                   d.due_date, d.due_date - l.today AS days_left, d.outer_date, d.amount,
                   -- A date on a holiday: the working day before, while it is ahead (as
                   -- the limitation alert says it).
                   {file_by("d", "p", "l.today")} AS file_by
            FROM limitation_dates d
            JOIN (SELECT tn.id AS tenant_id,
                         (CAST(:as_of AS timestamptz) AT TIME ZONE tn.timezone)::date AS today
                  FROM tenants tn WHERE tn.id = ANY(:tenants)) AS l
              ON l.tenant_id = d.tenant_id
            JOIN proceedings p ON p.id = d.proceeding_id AND p.status = 'open'
            JOIN cases c ON c.id = d.case_id AND c.tenant_id = d.tenant_id
                        AND c.status <> 'Closed'
            JOIN limitation_rules r ON r.rule_id = d.rule_id AND r.version = d.rule_version
            JOIN users u ON u.tenant_id = d.tenant_id AND u.is_active
             AND (u.id IN (c.owner_id, COALESCE(p.representative_id, c.assigned_to))
                  OR (u.role = 'admin' AND d.kind IN ('hard', 'condonable')))
            WHERE d.tenant_id = ANY(:tenants)
              AND d.kind IN ('hard', 'condonable', 'officer_extendable')
              AND ((d.status = 'open' AND d.due_date BETWEEN l.today AND l.today + 7)
                   OR (d.status = 'lapsed'
                       AND (d.outer_date >= l.today OR d.due_date >= l.today - 7)))
        ) AS x
        ORDER BY x.tenant_id, x.user_id, x.proceeding_id, x.rule_id, x.fy
    )
"""

DIGEST = text(
    f"""
    WITH {STATUTORY_ITEMS_CTE}
    SELECT * FROM statutory_items
    ORDER BY tenant_id, user_id, block DESC, due_date, case_number
    """
)


@dataclass(frozen=True)
class RegisterRow:
    tenant_id: UUID
    proceeding_id: UUID
    case_id: UUID
    case_number: str
    proceeding: str
    reference_no: str | None
    rule_id: str
    title: str
    fy: str
    kind: str
    due_date: date
    days_left: int
    outer_date: date | None
    status: str
    amount: Decimal | None
    confidence: str
    notes: tuple[str, ...]
    falls_on_holiday: bool
    slab: str | None = None
    """What acting within the window costs, for the proceeding's kind (rule data)."""

    def as_json(self) -> dict[str, Any]:
        return {
            "tenantId": str(self.tenant_id),
            "proceedingId": str(self.proceeding_id),
            "caseId": str(self.case_id),
            "caseNumber": self.case_number,
            "proceeding": self.proceeding,
            "referenceNo": self.reference_no,
            "ruleId": self.rule_id,
            "title": self.title,
            "fy": None if self.fy == "*" else self.fy,
            "kind": self.kind,
            "dueDate": self.due_date.isoformat(),
            "daysLeft": self.days_left,
            "outerDate": self.outer_date.isoformat() if self.outer_date else None,
            "status": self.status,
            "amount": float(self.amount) if self.amount is not None else None,
            "confidence": self.confidence,
            "notes": list(self.notes),
            "fallsOnHoliday": self.falls_on_holiday,
            "slab": self.slab,
        }


@dataclass(frozen=True)
class DigestItem:
    tenant_id: UUID
    user_id: UUID
    block: str
    """'next_7_days' or 'overdue'."""
    proceeding_id: UUID
    case_id: UUID
    case_number: str
    rule_id: str
    fy: str
    title: str
    due_date: date
    days_left: int
    outer_date: date | None
    amount: Decimal | None
    file_by: date | None
    """The working day before a date that falls on a holiday, while it is ahead."""


def list_dates(
    conn: Connection,
    tenants: Sequence[UUID],
    as_of: datetime,
    *,
    days: int = 90,
    limit: int = 10000,
) -> list[RegisterRow]:
    """The register of ``tenants`` (all when empty): dates due within ``days``, soonest first."""
    params = {"tenants": list(tenants), "as_of": as_of, "days": days, "limit": limit}
    return [
        RegisterRow(
            r.tenant_id,
            r.proceeding_id,
            r.case_id,
            r.case_number,
            r.proceeding,
            r.reference_no,
            r.rule_id,
            r.title,
            r.fy,
            r.kind,
            r.due_date,
            r.days_left,
            r.outer_date,
            r.status,
            r.amount,
            r.confidence,
            tuple(r.notes),
            r.falls_on_holiday,
            r.slab,
        )
        for r in conn.execute(LIST, params)
    ]


def digest_items(conn: Connection, tenants: Sequence[UUID], as_of: datetime) -> list[DigestItem]:
    """The digest's statutory blocks for every user of ``tenants`` (see STATUTORY_ITEMS_CTE)."""
    rows = conn.execute(DIGEST, {"tenants": list(tenants), "as_of": as_of})
    return [DigestItem(*r) for r in rows]
