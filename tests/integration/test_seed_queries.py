"""The seed's troubleshooting and performance queries, verbatim, answer truthfully."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, text

from gstjobs.config import Settings
from tests.conftest import AS_OF
from tests.support import factory
from tests.support.jobs import run_job

# Copied character for character from the seed's "Troubleshooting" section.
FAILED_RUNS = """
-- Check audit logs for errors
SELECT id, action_type, details, timestamp
FROM audit_log
WHERE action_type = 'background_job_execution'
  AND details->>'status' = 'failed'
ORDER BY timestamp DESC
LIMIT 10;
"""

EXECUTION_TIMES = """
-- Check execution times
SELECT 
  details->>'job_name' as job,
  AVG((details->>'execution_time_ms')::int) as avg_time_ms,
  MAX((details->>'execution_time_ms')::int) as max_time_ms,
  COUNT(*) as executions
FROM audit_log
WHERE action_type = 'background_job_execution'
  AND timestamp > NOW() - INTERVAL '7 days'
GROUP BY details->>'job_name';
"""


def _driver_sql(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cur:
            cur.execute(sql.encode())
            return list(cur.fetchall())


def test_failed_runs_query_lists_exactly_the_failed_runs(
    engine: Engine, settings: Settings
) -> None:
    with engine.begin() as conn:
        good = factory.tenant(conn)
        factory.task(conn, good, due=AS_OF - timedelta(days=1))
    run_job(settings, "sla-check", as_of=AS_OF)
    with engine.begin() as conn:
        bad = factory.tenant(conn, timezone="No/Such_Zone")
        factory.task(conn, bad, due=AS_OF - timedelta(days=1))
    failed = run_job(settings, "sla-check", as_of=AS_OF + timedelta(minutes=15))
    assert failed.status == "failed"
    rows = _driver_sql(engine, FAILED_RUNS)
    assert len(rows) == 1
    details = rows[0][2]
    assert isinstance(details, dict)
    assert details["job_name"] == "check-sla-and-overdue"
    assert details["run_id"] == failed.run_id
    assert str(bad) in details["error"]


def test_execution_times_query_counts_every_run(engine: Engine, settings: Settings) -> None:
    for minutes in (0, 15, 30):
        run_job(settings, "sla-check", as_of=AS_OF + timedelta(minutes=minutes))
    rows = _driver_sql(engine, EXECUTION_TIMES)
    assert len(rows) == 1
    job, avg_ms, max_ms, executions = rows[0]
    assert job == "check-sla-and-overdue"
    assert executions == 3
    with engine.connect() as conn:
        durations = conn.execute(text("SELECT duration_ms FROM job_runs")).scalars().all()
    assert max_ms == max(durations)
    assert float(avg_ms) == sum(durations) / 3  # type: ignore[arg-type]
