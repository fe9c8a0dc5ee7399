"""send-hearing-reminders: built by issue 4. Until then a run fails with a clear message."""

from __future__ import annotations

from sqlalchemy import Connection

from gstjobs.errors import JobFailed
from gstjobs.jobs.base import JobContext, JobSpec, Results

JOB_NAME = "send-hearing-reminders"


def run(conn: Connection, ctx: JobContext) -> Results:
    raise JobFailed("send-hearing-reminders is not built yet (issue 4)")


SPEC = JobSpec(
    name=JOB_NAME,
    cli_name="hearing-reminders",
    schedule="0 8 * * *",
    expected_seconds=(5, 15),
    max_seconds=30,
    summary="send-hearing-reminders",
    work=run,
    result_keys=(
        "hearingsFound",
        "notificationsQueued",
        "notificationsSent",
        "notificationsFailed",
        "duplicatesSkipped",
    ),
)
