"""prune-history: trim what grows for ever, after summing it per day.

Weekly (Sunday 03:00), and by hand as ``gstjobs prune``. Older than
``GSTJOBS_RETAIN_DAYS`` (90; failures ``GSTJOBS_RETAIN_FAILED_DAYS``, 365) go: finished
runs (``job_runs``, summed first into ``job_run_rollups`` and ``job_run_rollup_items``
per job, shard and local day), the job-execution rows of ``audit_log``, processed
automation events, rule executions (``automation_logs``, summed with the events into
``practice_rollups`` per practice and day), sent and failed notifications, and slots.
Running runs, pending events and pending notifications are never touched.

The job runs outside one transaction: each batch of at most BATCH rows is its own
short statement, and it skips rows another session has locked (``SKIP LOCKED``), so it
never holds up a job that runs meanwhile. A dry run counts what would go.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, text

from gstjobs.core import JobContext, Results

if TYPE_CHECKING:
    from sqlalchemy import Engine

JOB_NAME = "prune-history"
BATCH = 5000

_RUNS = """
    SELECT id FROM job_runs
    WHERE status <> 'running'
      AND started_at < CASE WHEN status IN ('failed', 'abandoned') THEN :failed_before
                            ELSE :before END
    ORDER BY id LIMIT :batch FOR UPDATE SKIP LOCKED
"""
PRUNE_RUNS = text(
    f"""
    WITH doomed AS ({_RUNS}),
    gone AS (
        DELETE FROM job_runs r USING doomed d WHERE r.id = d.id
        RETURNING r.job_name, r.shard, r.status, r.duration_ms, r.results,
                  (r.started_at AT TIME ZONE :tz)::date AS day
    ),
    summed AS (
        INSERT INTO job_run_rollups AS u (day, job_name, shard, runs, succeeded, failed, skipped,
                                         duration_ms_total, duration_ms_max)
        SELECT day, job_name, shard, count(*), count(*) FILTER (WHERE status = 'success'),
               count(*) FILTER (WHERE status IN ('failed', 'abandoned')),
               count(*) FILTER (WHERE status = 'skipped'),
               coalesce(sum(duration_ms), 0), coalesce(max(duration_ms), 0)
        FROM gone GROUP BY day, job_name, shard
        ON CONFLICT (day, job_name, shard) DO UPDATE
        SET runs = u.runs + EXCLUDED.runs, succeeded = u.succeeded + EXCLUDED.succeeded,
            failed = u.failed + EXCLUDED.failed, skipped = u.skipped + EXCLUDED.skipped,
            duration_ms_total = u.duration_ms_total + EXCLUDED.duration_ms_total,
            duration_ms_max = greatest(u.duration_ms_max, EXCLUDED.duration_ms_max)
        RETURNING 1
    ),
    items AS (
        INSERT INTO job_run_rollup_items AS i (day, job_name, shard, key, total)
        SELECT g.day, g.job_name, g.shard, kv.key, sum(kv.value::numeric)
        FROM gone g CROSS JOIN LATERAL jsonb_each_text(coalesce(g.results, '{{}}')) kv
        WHERE jsonb_typeof(g.results -> kv.key) = 'number'
        GROUP BY g.day, g.job_name, g.shard, kv.key
        ON CONFLICT (day, job_name, shard, key) DO UPDATE SET total = i.total + EXCLUDED.total
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM gone) AS pruned, (SELECT count(*) FROM summed) AS days,
           (SELECT count(*) FROM items) AS keys
    """
)
PRUNE_AUDIT = text(
    """
    DELETE FROM audit_log WHERE id IN (
        SELECT id FROM audit_log
        WHERE action_type = 'background_job_execution'
          AND timestamp < CASE WHEN details ->> 'status' = 'failed' THEN :failed_before
                               ELSE :before END
        LIMIT :batch FOR UPDATE SKIP LOCKED)
    """
)
PRUNE_EVENTS = text(
    """
    WITH doomed AS (
        -- An event is also what keeps it from firing again ("once per task", "once per
        -- threshold and due date"): it stays while its task is open or its proceeding
        -- is, whatever its age; only then is it history.
        SELECT e.id FROM automation_events e
        WHERE e.processed_at IS NOT NULL AND e.processed_at < :before
          AND NOT (e.entity_type = 'task' AND EXISTS (
                SELECT 1 FROM tasks t WHERE t.id = e.entity_id
                  AND t.status NOT IN ('Completed', 'Cancelled')))
          AND NOT (e.entity_type = 'proceeding' AND EXISTS (
                SELECT 1 FROM proceedings p WHERE p.id = e.entity_id AND p.status = 'open'))
        LIMIT :batch FOR UPDATE OF e SKIP LOCKED
    ), gone AS (
        DELETE FROM automation_events e USING doomed d WHERE e.id = d.id
        RETURNING e.tenant_id, (e.occurred_at AT TIME ZONE :tz)::date AS day
    ), summed AS (
        INSERT INTO practice_rollups AS u (day, tenant_id, events)
        SELECT day, tenant_id, count(*) FROM gone GROUP BY day, tenant_id
        ON CONFLICT (day, tenant_id) DO UPDATE SET events = u.events + EXCLUDED.events
        RETURNING 1
    )
    SELECT count(*) FROM gone
    """
)
PRUNE_RULE_LOGS = text(
    """
    WITH doomed AS (
        SELECT id FROM automation_logs
        WHERE executed_at < CASE WHEN status = 'failed' THEN :failed_before ELSE :before END
        LIMIT :batch FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM automation_logs l USING doomed d WHERE l.id = d.id
        RETURNING l.tenant_id, l.status, (l.executed_at AT TIME ZONE :tz)::date AS day
    ), summed AS (
        INSERT INTO practice_rollups AS u (day, tenant_id, rule_executions, rule_failures)
        SELECT day, tenant_id, count(*), count(*) FILTER (WHERE status = 'failed')
        FROM gone GROUP BY day, tenant_id
        ON CONFLICT (day, tenant_id) DO UPDATE
        SET rule_executions = u.rule_executions + EXCLUDED.rule_executions,
            rule_failures = u.rule_failures + EXCLUDED.rule_failures
        RETURNING 1
    )
    SELECT count(*) FROM gone
    """
)
PRUNE_NOTIFICATIONS = text(
    """
    WITH doomed AS (
        SELECT id FROM notifications
        WHERE (status = 'sent' AND sent_at < :before)
           OR (status = 'failed' AND created_at < :failed_before)
        LIMIT :batch FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM notifications n USING doomed d WHERE n.id = d.id
        RETURNING n.tenant_id, n.status,
                  (coalesce(n.sent_at, n.created_at) AT TIME ZONE :tz)::date AS day
    ), summed AS (
        INSERT INTO practice_rollups AS u (day, tenant_id, notifications_sent,
                                           notifications_failed)
        SELECT day, tenant_id, count(*) FILTER (WHERE status = 'sent'),
               count(*) FILTER (WHERE status = 'failed')
        FROM gone GROUP BY day, tenant_id
        ON CONFLICT (day, tenant_id) DO UPDATE
        SET notifications_sent = u.notifications_sent + EXCLUDED.notifications_sent,
            notifications_failed = u.notifications_failed + EXCLUDED.notifications_failed
        RETURNING 1
    )
    SELECT count(*) FROM gone
    """
)
PRUNE_SLOTS = text(
    """
    DELETE FROM job_slots WHERE (job_name, shard, scheduled_at) IN (
        SELECT job_name, shard, scheduled_at FROM job_slots WHERE scheduled_at < :before
        LIMIT :batch FOR UPDATE SKIP LOCKED)
    """
)
COUNTS = {
    "runsPruned": _RUNS.replace("ORDER BY id LIMIT :batch FOR UPDATE SKIP LOCKED", ""),
    "auditRowsPruned": """SELECT id FROM audit_log
        WHERE action_type = 'background_job_execution'
          AND timestamp < CASE WHEN details ->> 'status' = 'failed' THEN :failed_before
                               ELSE :before END""",
    "eventsPruned": """SELECT id FROM automation_events
        WHERE processed_at IS NOT NULL AND processed_at < :before""",
    "ruleLogsPruned": """SELECT id FROM automation_logs WHERE executed_at <
        CASE WHEN status = 'failed' THEN :failed_before ELSE :before END""",
    "notificationsPruned": """SELECT id FROM notifications
        WHERE (status = 'sent' AND sent_at < :before)
           OR (status = 'failed' AND created_at < :failed_before)""",
    "slotsPruned": "SELECT 1 FROM job_slots WHERE scheduled_at < :before",
}
STEPS = (
    ("runsPruned", PRUNE_RUNS),
    ("auditRowsPruned", PRUNE_AUDIT),
    ("eventsPruned", PRUNE_EVENTS),
    ("ruleLogsPruned", PRUNE_RULE_LOGS),
    ("notificationsPruned", PRUNE_NOTIFICATIONS),
    ("slotsPruned", PRUNE_SLOTS),
)


def send(engine: Engine, ctx: JobContext) -> Results:
    """The whole job: batch after batch, each its own short transaction."""
    settings = ctx.settings
    params: dict[str, Any] = {
        "before": ctx.as_of - timedelta(days=settings.retain_days),
        "failed_before": ctx.as_of - timedelta(days=settings.retain_failed_days),
        "tz": settings.timezone,
        "batch": BATCH,
    }
    results: Results = {"retainDays": settings.retain_days}
    with engine.connect() as raw:
        conn = raw.execution_options(isolation_level="AUTOCOMMIT")
        # A batch waits for no lock: rows a running job holds are skipped, and a table
        # lock (a migration) ends the statement at once rather than queueing behind it.
        conn.execute(text("SET lock_timeout = '2s'"))
        for key, statement in STEPS:
            ctx.progress.step(f"prune: {key}")
            results[key] = (
                _count(conn, key, params) if ctx.dry_run else _batches(conn, statement, params)
            )
    return results


def _count(conn: Connection, key: str, params: dict[str, Any]) -> int:
    return int(conn.execute(text(f"SELECT count(*) FROM ({COUNTS[key]}) s"), params).scalar_one())


def _batches(conn: Connection, statement: Any, params: dict[str, Any]) -> int:
    total = 0
    while True:
        result = conn.execute(statement, params)
        done = int(result.scalar_one() if result.returns_rows else result.rowcount)
        total += done
        if done < BATCH:
            return total
