"""analytics-snapshot: built by issue 5. Until then a run fails with a clear message."""

from __future__ import annotations

from sqlalchemy import Connection

from gstjobs.errors import JobFailed
from gstjobs.jobs.base import JobContext, JobSpec, Results

JOB_NAME = "analytics-snapshot"


def run(conn: Connection, ctx: JobContext) -> Results:
    raise JobFailed("analytics-snapshot is not built yet (issue 5)")


SPEC = JobSpec(
    name=JOB_NAME,
    cli_name="analytics-snapshot",
    schedule="59 23 * * *",
    expected_seconds=(10, 30),
    max_seconds=60,
    summary="analytics-snapshot",
    work=run,
    result_keys=("tenants", "snapshotsWritten", "anomaliesDetected"),
)
