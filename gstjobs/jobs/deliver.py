"""deliver-notifications: send what is pending and due in the outbox.

The other jobs only queue (hearing-reminders and deadline-alerts also send their own
run's rows right after their commit); retries and every backlog are this job's. It
runs every minute under its own lock, so its time, its failures and its backlog are
its own, not folded into the jobs that queued the messages. ``gstjobs notify send``
is the operator's spelling of the same run.
"""

from __future__ import annotations

from gstjobs.core import JobSpec
from gstjobs.notify import delivery

JOB_NAME = "deliver-notifications"

SPEC = JobSpec(
    name=JOB_NAME,
    cli_name="deliver",
    schedule="* * * * *",
    expected_seconds=(1, 10),
    max_seconds=60,
    summary="Send pending notifications (email, WhatsApp): retries and backlog, urgent first.",
    work=None,
    send=delivery.send_due,
    result_keys=(
        "notificationsSent",
        "notificationsFailed",
        "notificationsRetrying",
        "notificationsDeferred",
        "notificationsHeld",
        "messagesSent",
        "messagesUnconfirmed",
    ),
)
