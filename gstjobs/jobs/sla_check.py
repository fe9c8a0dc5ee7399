"""check-sla-and-overdue: flag overdue tasks and SLA breaches, emit events, run rules.

A task is *overdue* when ``due_date < as_of - grace`` and it is neither Completed
nor Cancelled. It *breaches its SLA* when it is still open ``resolution_hours``
(its tenant's policy for its priority, else DEFAULT_SLA_HOURS) after ``created_at``.

Four set-based statements cover every tenant of the run at once:

1. clear flags on tasks that stopped qualifying (completed, cancelled, re-dated);
2. flag newly overdue tasks, emit ``task_overdue`` once per episode (task + due
   date) and log each to ``audit_log``;
3. flag new SLA breaches, emit ``sla_violation`` once per task, log each;
4. count what is flagged now.

Emission is idempotent through the unique key of ``automation_events``: a second
run at the same moment finds nothing new.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Connection, text

from gstjobs.automation import engine as rules
from gstjobs.core import JobContext, Results
from gstjobs.sla import POLICY_CTE, policy_params

JOB_NAME = "check-sla-and-overdue"

OPEN = "t.status NOT IN ('Completed', 'Cancelled')"
PAST_DUE = "COALESCE(t.due_date < :threshold AND isfinite(t.due_date), false)"
"""A task without a (finite) due date is never overdue (and never leaves a NULL flag)."""


# A flag stays while its task still qualifies at as_of, or when a run at a later moment
# set it (a run with a past --as-of must never undo what later runs saw).
STILL_OVERDUE = f"({OPEN} AND ({PAST_DUE} OR t.overdue_since > :as_of))"
STILL_BREACHED = (
    f"({OPEN} AND (t.created_at + make_interval(hours => p.hours) < :as_of"
    " OR t.sla_breached_at > :as_of))"
)

CLEAR_FLAGS = text(
    f"""
    WITH {POLICY_CTE}
    UPDATE tasks t
    SET is_overdue = t.is_overdue AND {STILL_OVERDUE},
        overdue_since = CASE WHEN t.is_overdue AND {STILL_OVERDUE} THEN t.overdue_since END,
        sla_breached = t.sla_breached AND {STILL_BREACHED},
        sla_breached_at = CASE WHEN t.sla_breached AND {STILL_BREACHED}
                               THEN t.sla_breached_at END
    FROM policy p
    WHERE t.tenant_id = ANY(:tenants)
      AND p.tenant_id = t.tenant_id AND p.priority = t.priority
      AND (t.is_overdue OR t.sla_breached)
      AND NOT ((NOT t.is_overdue OR {STILL_OVERDUE}) AND (NOT t.sla_breached OR {STILL_BREACHED}))
    """
)

FLAG_OVERDUE = text(
    f"""
    WITH newly AS (
        UPDATE tasks t
        SET is_overdue = true, overdue_since = :as_of
        WHERE t.tenant_id = ANY(:tenants)
          AND NOT t.is_overdue AND {OPEN} AND {PAST_DUE}
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
    SELECT (SELECT count(*) FROM emitted) AS newly_overdue,
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
          AND NOT t.sla_breached AND {OPEN}
          AND t.created_at + make_interval(hours => p.hours) < :as_of
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
    SELECT (SELECT count(*) FROM emitted) AS sla_violations
    """
)

COUNT_FLAGGED = text(
    """
    SELECT count(*) FILTER (WHERE t.is_overdue) AS overdue,
           count(*) FILTER (WHERE t.sla_breached) AS breached
    FROM tasks t
    WHERE t.tenant_id = ANY(:tenants) AND (t.is_overdue OR t.sla_breached)
    """
)


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
    cleared = conn.execute(CLEAR_FLAGS, params).rowcount
    newly_overdue = conn.execute(FLAG_OVERDUE, params).one().newly_overdue
    sla_violations = conn.execute(FLAG_SLA, params).scalar_one()
    counts = conn.execute(COUNT_FLAGGED, params).one()
    fired = rules.process_pending(conn, ctx)
    return {
        "overdueTasks": counts.overdue,
        "newlyOverdue": newly_overdue,
        "slaViolations": sla_violations,
        "openSlaBreaches": counts.breached,
        "flagsCleared": cleared,
        "rulesTriggered": fired.executed,
        "rulesFailed": fired.failed,
    }
