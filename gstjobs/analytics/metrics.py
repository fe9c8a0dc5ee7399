"""The six metrics, measured for many (tenant, day) points in one statement.

A *point* is a tenant, the tenant-local date the snapshot is for, and the cutoff
moment: the data is read as it stood at the cutoff (nothing created, completed,
uploaded or dated after it counts). For a nightly run the cutoff is ``as_of``; for
a backfilled day it is 23:59 of that day in the tenant's timezone.

Definitions (docs/analytics.md says the same in prose):

* a task's *completion moment* is ``completed_at`` when its status is Completed
  (``created_at`` when a Completed task has no ``completed_at``); a task of any other
  status has none. Cancelled tasks count nowhere: there is no ``cancelled_at``, so
  when they were cancelled is unknown.
* ``case_count``: cases created by the cutoff that are not closed by it. A case is
  closed when its status is Closed and ``closed_at`` is at or before the cutoff (or
  missing: a Closed case without ``closed_at`` is closed at every date).
* ``task_completion_rate``: tasks completed by the cutoff / tasks created by it.
* ``sla_compliance_rate``: among tasks created by the cutoff whose outcome is settled
  by it (completed, or open past their deadline), those completed no later than the
  deadline. A task's deadline is its due date; a task without one is judged by the
  priority's threshold after creation, ``created_at + resolution_hours`` (tenant policy
  for the priority, else DEFAULT_SLA_HOURS: sla.py's policy CTE). A task open before
  its due date is not settled, whatever its priority: a reply to a show-cause notice
  due in three weeks is not a breach on its second day (issue 12).
* ``hearing_attendance_rate``: Attended / (Attended + Missed) among hearings dated
  in the 30 local days ending on the snapshot date, up to the cutoff. Adjourned,
  Cancelled and still-Scheduled hearings are outside the denominator.
* ``document_count``: documents uploaded by the cutoff.
* ``overdue_tasks``: tasks created by the cutoff, due before it, not completed by it.

A rate whose denominator is empty is None (JSON null).

How one statement serves one day or a year: every fact above becomes the moment
from which it holds (a task's ``completed`` moment is when it was both created and
completed; ``past_due`` is when it was created and its due date had passed), so
"holds at the cutoff" is "moment <= cutoff". Per tenant, moments up to the first
cutoff are counted plainly (a nightly run has a single cutoff per tenant: that is
the whole answer, one pass over each table); the moments between the first and the
last cutoff are sorted with the cutoffs and counted by a running sum (a backfill:
one sort, not tasks × days comparisons). Hearings are counted by a join, their
window being bounded to 30 days.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text

from gstjobs.sla import POLICY_CTE, policy_params

HEARING_WINDOW_DAYS = 30
RATE_PLACES = 4

_TASK_KINDS = ("task", "completed", "sla_settled", "sla_on_time", "past_due", "past_due_done")
_CASE_KINDS = ("opened", "closed")

MEASURE = text(
    """
    WITH p AS (
        SELECT *
        FROM unnest(CAST(:p_tenants AS uuid[]), CAST(:p_dates AS date[]),
                    CAST(:p_cutoffs AS timestamptz[]), CAST(:p_hearings_from AS timestamptz[]))
             AS p (tenant_id, snapshot_date, cutoff, hearings_from)
    ), bounds AS (
        SELECT tenant_id, min(cutoff) AS first_cutoff, max(cutoff) AS last_cutoff
        FROM p GROUP BY tenant_id
    ), {policy}, task_facts AS (
        SELECT t.tenant_id, t.created_at, t.due_date + interval '1 microsecond' AS past_due,
               CASE WHEN t.status = 'Completed'
                    THEN COALESCE(t.completed_at, t.created_at) END AS done_at,
               COALESCE(t.due_date, t.created_at + make_interval(hours => pol.hours))
                   AS sla_deadline
        FROM tasks t
        JOIN policy pol ON pol.tenant_id = t.tenant_id AND pol.priority = t.priority
        WHERE t.tenant_id = ANY(:tenants) AND t.status <> 'Cancelled'
    ), task_moments AS (
        -- Each fact as the moment from which it holds: "holds at the cutoff" is then
        -- "moment <= cutoff" (NULL: never). GREATEST and LEAST skip NULLs, hence the CASEs.
        SELECT f.tenant_id,
               f.created_at AS task,
               CASE WHEN f.done_at IS NOT NULL
                    THEN GREATEST(f.created_at, f.done_at) END AS completed,
               GREATEST(f.created_at, LEAST(f.done_at, f.sla_deadline + interval '1 microsecond'))
                   AS sla_settled,
               CASE WHEN f.done_at <= f.sla_deadline
                    THEN GREATEST(f.created_at, f.done_at) END AS sla_on_time,
               CASE WHEN f.past_due IS NOT NULL
                    THEN GREATEST(f.created_at, f.past_due) END AS past_due,
               CASE WHEN f.past_due IS NOT NULL AND f.done_at IS NOT NULL
                    THEN GREATEST(f.created_at, f.past_due, f.done_at) END AS past_due_done
        FROM task_facts f
    ), case_moments AS (
        SELECT c.tenant_id, c.created_at AS opened,
               CASE WHEN c.status = 'Closed'
                    THEN GREATEST(c.created_at, COALESCE(c.closed_at, c.created_at)) END AS closed
        FROM cases c WHERE c.tenant_id = ANY(:tenants)
    ), base_tasks AS (
        -- Up to each tenant's first cutoff, a plain count (for a nightly run, with one
        -- cutoff per tenant, the whole answer) ...
        SELECT m.tenant_id, {base_tasks}
        FROM task_moments m JOIN bounds b ON b.tenant_id = m.tenant_id
        GROUP BY m.tenant_id
    ), base_cases AS (
        SELECT m.tenant_id, {base_cases}
        FROM case_moments m JOIN bounds b ON b.tenant_id = m.tenant_id
        GROUP BY m.tenant_id
    ), base_documents AS (
        SELECT d.tenant_id, count(*) AS document
        FROM documents d JOIN bounds b ON b.tenant_id = d.tenant_id
                                      AND d.uploaded_at <= b.first_cutoff
        GROUP BY d.tenant_id
    ), events AS (
        -- ... and between the first and the last cutoff (a backfill), the moments in
        -- order with the cutoffs among them, counted by a running sum.
        SELECT m.tenant_id, e.kind, e.at
        FROM task_moments m JOIN bounds b ON b.tenant_id = m.tenant_id
                                         AND b.first_cutoff < b.last_cutoff
        CROSS JOIN LATERAL (VALUES {task_values}) AS e (kind, at)
        WHERE e.at > b.first_cutoff AND e.at <= b.last_cutoff
        UNION ALL
        SELECT m.tenant_id, e.kind, e.at
        FROM case_moments m JOIN bounds b ON b.tenant_id = m.tenant_id
                                         AND b.first_cutoff < b.last_cutoff
        CROSS JOIN LATERAL (VALUES {case_values}) AS e (kind, at)
        WHERE e.at > b.first_cutoff AND e.at <= b.last_cutoff
        UNION ALL
        SELECT d.tenant_id, 'document', d.uploaded_at
        FROM documents d JOIN bounds b ON b.tenant_id = d.tenant_id
                                      AND d.uploaded_at > b.first_cutoff
                                      AND d.uploaded_at <= b.last_cutoff
    ), timeline AS (
        SELECT tenant_id, at, kind, NULL::date AS snapshot_date FROM events
        UNION ALL
        SELECT tenant_id, cutoff, 'point', snapshot_date FROM p
    ), running AS (
        SELECT tenant_id, snapshot_date, kind, {running}
        FROM timeline
        -- A moment equal to a cutoff counts: moments sort before points.
        WINDOW w AS (PARTITION BY tenant_id ORDER BY at, kind = 'point'
                     ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
    ), hearing_m AS (
        SELECT p.tenant_id, p.snapshot_date,
               count(*) FILTER (WHERE h.status = 'Attended') AS attended,
               count(*) FILTER (WHERE h.status = 'Missed') AS missed
        FROM p JOIN hearings h ON h.tenant_id = p.tenant_id
                              AND h.hearing_date >= p.hearings_from
                              AND h.hearing_date <= p.cutoff
        WHERE h.tenant_id = ANY(:tenants)
        GROUP BY p.tenant_id, p.snapshot_date
    ), totals AS (
        SELECT r.tenant_id, r.snapshot_date, {totals}
        FROM running r
        LEFT JOIN base_tasks bt ON bt.tenant_id = r.tenant_id
        LEFT JOIN base_cases bc ON bc.tenant_id = r.tenant_id
        LEFT JOIN base_documents bd ON bd.tenant_id = r.tenant_id
        WHERE r.kind = 'point'
    )
    SELECT t.tenant_id, t.snapshot_date,
           t.opened - t.closed AS active_cases,
           t.task AS tasks, t.completed AS tasks_completed, t.sla_settled, t.sla_on_time,
           COALESCE(h.attended, 0) AS hearings_attended,
           COALESCE(h.missed, 0) AS hearings_missed,
           t.document AS documents,
           t.past_due - t.past_due_done AS overdue_tasks
    FROM totals t
    LEFT JOIN hearing_m h ON h.tenant_id = t.tenant_id AND h.snapshot_date = t.snapshot_date
    """.format(
        policy=POLICY_CTE.strip(),
        base_tasks=", ".join(
            f"count(*) FILTER (WHERE m.{k} <= b.first_cutoff) AS {k}" for k in _TASK_KINDS
        ),
        base_cases=", ".join(
            f"count(*) FILTER (WHERE m.{k} <= b.first_cutoff) AS {k}" for k in _CASE_KINDS
        ),
        task_values=", ".join(f"('{k}', m.{k})" for k in _TASK_KINDS),
        case_values=", ".join(f"('{k}', m.{k})" for k in _CASE_KINDS),
        running=", ".join(
            f"count(*) FILTER (WHERE kind = '{k}') OVER w AS {k}"
            for k in (*_TASK_KINDS, *_CASE_KINDS, "document")
        ),
        totals=", ".join(
            f"r.{k} + COALESCE({alias}.{k}, 0) AS {k}"
            for alias, kinds in (("bt", _TASK_KINDS), ("bc", _CASE_KINDS), ("bd", ("document",)))
            for k in kinds
        ),
    )
)
"""The metric kinds are fixed identifiers spliced in once at import (never a value):
each is counted the same way in the plain count and in the running sum."""


@dataclass(frozen=True)
class Point:
    """One snapshot to measure: this tenant, this local date, data as of ``cutoff``."""

    tenant_id: UUID
    snapshot_date: date
    cutoff: datetime
    hearings_from: datetime
    """Start of the hearing window: local midnight HEARING_WINDOW_DAYS - 1 days back."""


def point(tenant_id: UUID, timezone: str, snapshot_date: date, cutoff: datetime) -> Point:
    tz = ZoneInfo(timezone)
    first = snapshot_date - timedelta(days=HEARING_WINDOW_DAYS - 1)
    return Point(tenant_id, snapshot_date, cutoff, datetime.combine(first, time(0), tzinfo=tz))


@dataclass(frozen=True)
class Counts:
    """The numerators and denominators behind one day's metrics."""

    active_cases: int
    tasks: int
    tasks_completed: int
    sla_settled: int
    sla_on_time: int
    hearings_attended: int
    hearings_missed: int
    documents: int
    overdue_tasks: int

    def metrics(self) -> dict[str, int | float | None]:
        return {
            "case_count": self.active_cases,
            "task_completion_rate": rate(self.tasks_completed, self.tasks),
            "sla_compliance_rate": rate(self.sla_on_time, self.sla_settled),
            "hearing_attendance_rate": rate(
                self.hearings_attended, self.hearings_attended + self.hearings_missed
            ),
            "document_count": self.documents,
            "overdue_tasks": self.overdue_tasks,
        }

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def rate(numerator: int, denominator: int) -> float | None:
    """``numerator / denominator`` to RATE_PLACES places; None when nothing to divide by."""
    if denominator == 0:
        return None
    return round(numerator / denominator, RATE_PLACES)


def measure(
    conn: Connection,
    tenant_ids: Sequence[UUID],
    points: Sequence[Point],
    sla_hours: Mapping[str, int],
) -> list[tuple[Point, Counts]]:
    """Counts for every point, in the order given, from one statement over all tenants.

    ``sla_hours``: resolution hours per priority where a tenant has no sla_policies row
    (the SLA check's DEFAULT_SLA_HOURS).
    """
    if not points:
        return []
    rows = conn.execute(
        MEASURE,
        {
            "tenants": list(tenant_ids),
            "p_tenants": [p.tenant_id for p in points],
            "p_dates": [p.snapshot_date for p in points],
            "p_cutoffs": [p.cutoff for p in points],
            "p_hearings_from": [p.hearings_from for p in points],
            **policy_params(sla_hours),
        },
    ).fetchall()
    by_key = {
        (r.tenant_id, r.snapshot_date): Counts(
            r.active_cases,
            r.tasks,
            r.tasks_completed,
            r.sla_settled,
            r.sla_on_time,
            r.hearings_attended,
            r.hearings_missed,
            r.documents,
            r.overdue_tasks,
        )
        for r in rows
    }
    return [(p, by_key[(p.tenant_id, p.snapshot_date)]) for p in points]
