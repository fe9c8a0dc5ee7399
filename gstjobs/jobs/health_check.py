"""automation-health-check: built by issue 3. Until then a run fails with a clear message."""

from __future__ import annotations

from sqlalchemy import Connection

from gstjobs.errors import JobFailed
from gstjobs.jobs.base import JobContext, JobSpec, Results

JOB_NAME = "automation-health-check"


def run(conn: Connection, ctx: JobContext) -> Results:
    raise JobFailed("automation-health-check is not built yet (issue 3)")


SPEC = JobSpec(
    name=JOB_NAME,
    cli_name="health-check",
    schedule="0 7 * * *",
    expected_seconds=(2, 5),
    max_seconds=10,
    summary="automation-health-check",
    work=run,
    result_keys=(
        "total_executions",
        "successful_executions",
        "failed_executions",
        "success_rate",
        "inactive_rules",
        "degraded_rules",
        "level",
    ),
)
