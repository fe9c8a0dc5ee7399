"""check-sla-and-overdue: flag overdue tasks and SLA breaches, emit events, run rules.

A task is *overdue* when ``due_date < as_of - grace`` and it is neither Completed
nor Cancelled. A task *breaches its SLA* (time to first action, issue 12) when no one
has started it: it is still ``Pending`` with no ``started_at`` ``resolution_hours``
(its tenant's policy for its priority, else DEFAULT_SLA_HOURS) after ``created_at``.
A task with a due date is judged by its due date alone: overdue is overdue, and it is
never in SLA breach merely because it is open before it falls due. Tasks of a case
whose status is ``Closed`` are left alone: never flagged, and flags set before the case
closed are cleared on the next run.

Four set-based statements cover every tenant of the run at once, each touching only
its candidates through a partial index shaped for its predicate (migration 012), so a
15-minute tick costs what changed, not what the tables hold:

1. clear flags on tasks that stopped qualifying (completed, cancelled, started,
   re-dated, closed matter): the union of four narrow candidate sets;
2. flag newly overdue tasks, emit ``task_overdue`` once per episode (task + due
   date) and log each to ``audit_log``;
3. flag new SLA breaches, emit ``sla_violation`` once per task, log each;
4. count what is flagged now.

Emission is idempotent through the unique key of ``automation_events``: a second
run at the same moment finds nothing new. A run that changed a large share of
``tasks`` analyses it before it ends (``gstjobs.stats``), so the next tick's plans
are right whatever autovacuum is doing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Row, TextClause, text

from gstjobs import stats
from gstjobs.automation import engine as rules
from gstjobs.core import JobContext, Results
from gstjobs.sla import POLICY_CTE, policy_params

JOB_NAME = "check-sla-and-overdue"

OPEN = "t.status NOT IN ('Completed', 'Cancelled')"
PAST_DUE = "COALESCE(t.due_date < :threshold AND isfinite(t.due_date), false)"
"""A task without a (finite) due date is never overdue (and never leaves a NULL flag)."""
UNSTARTED = "t.status = 'Pending' AND t.started_at IS NULL AND t.due_date IS NULL"
"""Who can breach an SLA: no one has acted on it, and it has no due date to judge it by."""
LIVE_CASE = (
    "NOT EXISTS (SELECT 1 FROM cases c"
    " WHERE c.id = t.case_id AND c.tenant_id = t.tenant_id AND c.status = 'Closed')"
)

# A flag stays while its task still qualifies at as_of, or when a run at a later moment
# set it (a run with a past --as-of must never undo what later runs saw); a closed
# matter's flags go whatever the moment.
STILL_OVERDUE = f"(NOT k.closed AND {OPEN} AND ({PAST_DUE} OR t.overdue_since > :as_of))"
STILL_BREACHED = (
    f"(NOT k.closed AND {UNSTARTED} AND (t.created_at + make_interval(hours => p.hours) < :as_of"
    " OR t.sla_breached_at > :as_of))"
)

CLEAR_FLAGS = text(
    f"""
    WITH {POLICY_CTE}, candidate AS (
        SELECT t.id FROM tasks t
        WHERE t.tenant_id = ANY(:tenants) AND (t.is_overdue OR t.sla_breached)
          AND t.status IN ('Completed', 'Cancelled')
        UNION
        SELECT t.id FROM tasks t
        WHERE t.tenant_id = ANY(:tenants) AND t.is_overdue
          AND (t.due_date >= :threshold OR t.due_date IS NULL)
        UNION
        SELECT t.id FROM tasks t
        WHERE t.tenant_id = ANY(:tenants) AND t.sla_breached
        UNION
        -- A probe of the flagged tasks' index per closed case (OFFSET 0 keeps it a probe,
        -- not a hash join that reads every flagged task): no heap read when none is found.
        SELECT f.id FROM cases c
        CROSS JOIN LATERAL (
            SELECT t.id FROM tasks t
            WHERE t.case_id = c.id AND t.tenant_id = c.tenant_id
              AND (t.is_overdue OR t.sla_breached)
            OFFSET 0
        ) f
        WHERE c.tenant_id = ANY(:tenants) AND c.status = 'Closed'
    ), k AS (
        SELECT t.id, c.status IS NOT DISTINCT FROM 'Closed' AS closed
        FROM candidate x
        JOIN tasks t ON t.id = x.id
        LEFT JOIN cases c ON c.id = t.case_id AND c.tenant_id = t.tenant_id
    )
    UPDATE tasks t
    SET is_overdue = t.is_overdue AND {STILL_OVERDUE},
        overdue_since = CASE WHEN t.is_overdue AND {STILL_OVERDUE} THEN t.overdue_since END,
        sla_breached = t.sla_breached AND {STILL_BREACHED},
        sla_breached_at = CASE WHEN t.sla_breached AND {STILL_BREACHED}
                               THEN t.sla_breached_at END
    FROM k, policy p
    WHERE t.id = k.id AND t.tenant_id = ANY(:tenants)
      AND p.tenant_id = t.tenant_id AND p.priority = t.priority
      AND NOT ((NOT t.is_overdue OR {STILL_OVERDUE}) AND (NOT t.sla_breached OR {STILL_BREACHED}))
    """
)

FLAG_OVERDUE = text(
    f"""
    WITH newly AS (
        UPDATE tasks t
        SET is_overdue = true, overdue_since = :as_of
        WHERE t.tenant_id = ANY(:tenants)
          AND NOT t.is_overdue AND {OPEN}
          AND t.due_date < :threshold AND isfinite(t.due_date)
          AND {LIVE_CASE}
        RETURNING t.id, t.tenant_id, t.case_id, t.priority, t.due_date
    ), emitted AS (
        INSERT INTO automation_events (tenant_id, event_type, entity_type, entity_id,
                                       dedup_key, payload, occurred_at, run_id)
        SELECT n.tenant_id, 'task_overdue', 'task', n.id,
               n.id::text || '@' || to_char(n.due_date AT TIME ZONE 'UTC',
                                            'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
               jsonb_build_object(
                   'task_id', n.id,
                   'case_id', n.case_id,
                   'days_overdue', (:as_of AT TIME ZONE tn.timezone)::date
                                   - (n.due_date AT TIME ZONE tn.timezone)::date,
                   'hours_overdue',
                   round((extract(epoch FROM :as_of - n.due_date) / 3600)::numeric, 1),
                   'priority', n.priority,
                   'due_date', n.due_date),
               :as_of, :run_id
        FROM newly n JOIN tenants tn ON tn.id = n.tenant_id
        ON CONFLICT (tenant_id, event_type, dedup_key) DO NOTHING
        RETURNING tenant_id, entity_id, payload
    ), logged AS (
        INSERT INTO audit_log (tenant_id, action_type, entity_type, entity_id, details)
        SELECT e.tenant_id, 'task_overdue', 'task', e.entity_id,
               e.payload || jsonb_build_object('job_name', CAST(:job_name AS text),
                                               'run_id', CAST(:run_id AS bigint))
        FROM emitted e
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM newly) AS flagged,
           (SELECT count(*) FROM emitted) AS newly_overdue,
           (SELECT count(*) FROM logged) AS logged
    """
)

FLAG_SLA = text(
    f"""
    WITH {POLICY_CTE}, breached AS (
        UPDATE tasks t
        SET sla_breached = true, sla_breached_at = :as_of
        FROM policy p
        WHERE t.tenant_id = ANY(:tenants)
          AND p.tenant_id = t.tenant_id AND p.priority = t.priority
          AND NOT t.sla_breached AND {UNSTARTED}
          -- the loosest bound of the run's policies first: an index range, then the exact one
          AND t.created_at < :as_of - make_interval(hours => (SELECT min(hours) FROM policy))
          AND t.created_at + make_interval(hours => p.hours) < :as_of
          AND {LIVE_CASE}
        RETURNING t.id, t.tenant_id, t.case_id, t.priority, t.created_at, p.hours
    ), emitted AS (
        INSERT INTO automation_events (tenant_id, event_type, entity_type, entity_id,
                                       dedup_key, payload, occurred_at, run_id)
        SELECT b.tenant_id, 'sla_violation', 'task', b.id, b.id::text,
               jsonb_build_object(
                   'task_id', b.id,
                   'case_id', b.case_id,
                   'priority', b.priority,
                   'sla_threshold', b.hours,
                   'actual_time',
                   round((extract(epoch FROM :as_of - b.created_at) / 3600)::numeric, 1)),
               :as_of, :run_id
        FROM breached b
        ON CONFLICT (tenant_id, event_type, dedup_key) DO NOTHING
        RETURNING tenant_id, entity_id, payload
    ), logged AS (
        INSERT INTO audit_log (tenant_id, action_type, entity_type, entity_id, details)
        SELECT e.tenant_id, 'sla_violation', 'task', e.entity_id,
               e.payload || jsonb_build_object('job_name', CAST(:job_name AS text),
                                               'run_id', CAST(:run_id AS bigint))
        FROM emitted e
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM breached) AS flagged,
           (SELECT count(*) FROM emitted) AS sla_violations
    """
)

BITMAPS = text("SELECT set_config('enable_bitmapscan', :value, true)")
SHOW_BITMAPS = text("SELECT current_setting('enable_bitmapscan')")

COUNT_FLAGGED = text(
    """
    SELECT count(*) FILTER (WHERE t.is_overdue) AS overdue,
           count(*) FILTER (WHERE t.sla_breached) AS breached
    FROM tasks t
    WHERE t.tenant_id = ANY(:tenants) AND (t.is_overdue OR t.sla_breached)
    """
)


def _by_index_scan(conn: Connection, statement: TextClause, params: dict[str, Any]) -> Row[Any]:
    """``statement``'s one row, planned without bitmap scans. A first run on a backlog
    flags most of the open past-due tasks, and each leaves a dead entry in the unflagged
    tasks' index until VACUUM; a plain index scan marks such entries dead as it meets
    them (a bitmap scan never does). When the planner prefers a sequential scan (at a
    million tasks it does: about 0.6 s a tick), the dead entries stay for VACUUM."""
    before = conn.execute(SHOW_BITMAPS).scalar_one()
    conn.execute(BITMAPS, {"value": "off"})
    # Restored on success only: after a failed statement the transaction is aborted, a
    # statement in a finally would fail too and hide the real error (a lock timeout or
    # the deadline's cancel), and the rollback undoes the transaction-local setting.
    row = conn.execute(statement, params).one()
    conn.execute(BITMAPS, {"value": before})
    return row


def run(conn: Connection, ctx: JobContext) -> Results:
    grace = timedelta(minutes=ctx.settings.overdue_grace_minutes)
    params = {
        "tenants": ctx.tenant_ids,
        "as_of": ctx.as_of,
        "threshold": ctx.as_of - grace,
        "run_id": ctx.run_id,
        "job_name": JOB_NAME,
        **policy_params(),
    }
    stats.analyze_if_never(conn, ("cases", "tasks"))
    cleared = conn.execute(CLEAR_FLAGS, params).rowcount
    overdue = _by_index_scan(conn, FLAG_OVERDUE, params)
    sla = conn.execute(FLAG_SLA, params).one()
    # The next tick plans on tasks' flags: after a bulk change, fresh statistics now.
    stats.analyze_if_changed(conn, {"tasks": cleared + overdue.flagged + sla.flagged})
    counts = conn.execute(COUNT_FLAGGED, params).one()
    newly_overdue, sla_violations = overdue.newly_overdue, sla.sla_violations
    fired = rules.process_pending(conn, ctx)
    return {
        "overdueTasks": counts.overdue,
        "newlyOverdue": newly_overdue,
        "slaViolations": sla_violations,
        "openSlaBreaches": counts.breached,
        "flagsCleared": cleared,
        "rulesTriggered": fired.executed,
        "rulesFailed": fired.failed,
        "rulesSeconds": round(fired.seconds, 3),
    }
