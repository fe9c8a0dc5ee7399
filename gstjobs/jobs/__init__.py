"""The job registry: every job gstjobs runs, by CLI name and canonical name.

One line per job holds all that is known of it without running it: its names, its
schedule (in GSTJOBS_TIMEZONE), its expected and maximum time (the original
specification's, CONTRACT §1), what it reports, what ``run-due`` does about missed
slots, and the module with its code (imported only when it runs). Adding a job means
one module and one entry here; crontab, systemd units and the Makefile's list are
generated from it (``gstjobs schedule``).
"""

from __future__ import annotations

from gstjobs.core import JobSpec
from gstjobs.errors import UsageError

JOBS: tuple[JobSpec, ...] = (
    JobSpec(
        name="check-sla-and-overdue",
        cli_name="sla-check",
        schedule="*/15 * * * *",
        expected_seconds=(2, 5),
        max_seconds=15,
        summary="Flag overdue tasks and SLA breaches; emit events for the automation rules.",
        module="gstjobs.jobs.sla_check",
        result_keys=("overdueTasks", "newlyOverdue", "slaViolations", "rulesTriggered"),
    ),
    JobSpec(
        name="limitation-watch",
        cli_name="limitation-watch",
        schedule="30 7 * * *",
        expected_seconds=(2, 10),
        max_seconds=30,
        summary="Compute the statutory dates of every open proceeding; alert before they pass.",
        module="gstjobs.jobs.limitation_watch",
        result_keys=(
            "proceedingsScanned",
            "datesComputed",
            "datesChanged",
            "dueIn7Days",
            "lapsedToday",
            "inCondonation",
            "defencesFound",
            "inputsMissing",
            "notificationsQueued",
        ),
        catch_up="today-only",
    ),
    JobSpec(
        name="send-hearing-reminders",
        cli_name="hearing-reminders",
        schedule="0 8 * * *",
        expected_seconds=(5, 15),
        max_seconds=30,
        summary="Remind case owners and advocates of hearings today and tomorrow "
        "(email, WhatsApp).",
        module="gstjobs.jobs.hearing_reminders",
        result_keys=(
            "hearingsFound",
            "notificationsQueued",
            "notificationsSent",
            "notificationsFailed",
            "duplicatesSkipped",
        ),
        catch_up="today-only",
    ),
    JobSpec(
        name="analytics-snapshot",
        cli_name="analytics-snapshot",
        schedule="59 23 * * *",
        expected_seconds=(10, 30),
        max_seconds=60,
        summary="Store each practice's daily metrics and flag >30% deviations from the "
        "7-day average.",
        module="gstjobs.jobs.analytics_snapshot",
        result_keys=("tenants", "snapshotsWritten", "anomaliesDetected"),
        catch_up="each-day",
        catch_up_days=7,
    ),
    JobSpec(
        name="check-upcoming-deadlines",
        cli_name="deadline-alerts",
        schedule="0 9 * * *",
        expected_seconds=(3, 8),
        max_seconds=20,
        summary="One morning digest per person: what is overdue and what falls due next.",
        module="gstjobs.jobs.deadline_alerts",
        result_keys=(
            "tasksDue",
            "hearingsDue",
            "tasksOverdue",
            "usersAlerted",
            "notificationsQueued",
            "notificationsSent",
        ),
        catch_up="today-only",
    ),
    JobSpec(
        name="automation-health-check",
        cli_name="health-check",
        schedule="0 7 * * *",
        expected_seconds=(2, 5),
        max_seconds=10,
        summary="Automation rule health over the last 24 hours; alert each practice's admins.",
        module="gstjobs.jobs.health_check",
        result_keys=(
            "total_executions",
            "successful_executions",
            "failed_executions",
            "success_rate",
            "inactive_rules",
            "degraded_rules",
            "level",
            "matterFindings",
        ),
        catch_up="today-only",
    ),
    JobSpec(
        name="deliver-notifications",
        cli_name="deliver",
        schedule="* * * * *",
        expected_seconds=(1, 10),
        max_seconds=60,
        summary="Send pending notifications (email, WhatsApp): retries and backlog, urgent first.",
        module="gstjobs.jobs.deliver",
        result_keys=(
            "notificationsSent",
            "notificationsFailed",
            "notificationsRetrying",
            "notificationsDeferred",
            "notificationsHeld",
            "messagesSent",
            "messagesUnconfirmed",
        ),
    ),
)


JOBS += (
    JobSpec(
        name="prune-history",
        cli_name="prune",
        schedule="0 3 * * 0",
        expected_seconds=(5, 60),
        max_seconds=300,
        summary="Sum old runs, events, rule logs and notifications per day, then delete "
        "them (weekly).",
        module="gstjobs.jobs.prune",
        result_keys=(
            "runsPruned",
            "auditRowsPruned",
            "eventsPruned",
            "ruleLogsPruned",
            "notificationsPruned",
            "slotsPruned",
        ),
    ),
)


def find(name: str) -> JobSpec:
    """The job called ``name`` (CLI or canonical name); UsageError listing the known ones."""
    for spec in JOBS:
        if name in (spec.cli_name, spec.name):
            return spec
    import difflib

    names = [s.cli_name for s in JOBS]
    close = difflib.get_close_matches(name, names + [s.name for s in JOBS], n=1)
    hint = f"did you mean {find(close[0]).cli_name}? " if close else ""
    raise UsageError(f"unknown job {name!r}; {hint}choose one of: {', '.join(names)}.")
