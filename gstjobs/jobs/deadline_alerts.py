"""check-upcoming-deadlines: built by issue 4. Until then a run fails with a clear message."""

from __future__ import annotations

from sqlalchemy import Connection

from gstjobs.errors import JobFailed
from gstjobs.jobs.base import JobContext, JobSpec, Results

JOB_NAME = "check-upcoming-deadlines"


def run(conn: Connection, ctx: JobContext) -> Results:
    raise JobFailed("check-upcoming-deadlines is not built yet (issue 4)")


SPEC = JobSpec(
    name=JOB_NAME,
    cli_name="deadline-alerts",
    schedule="0 9 * * *",
    expected_seconds=(3, 8),
    max_seconds=20,
    summary="check-upcoming-deadlines",
    work=run,
    result_keys=(
        "tasksDue",
        "hearingsDue",
        "usersAlerted",
        "notificationsQueued",
        "notificationsSent",
    ),
)
