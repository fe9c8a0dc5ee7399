"""limitation-watch: the statutory dates of every open proceeding, every morning.

Runs at 07:30 (before hearing-reminders at 08:00 and the digest at 09:00), and again on
demand after data entry. For the run's practices, in a handful of set-based statements
(gstjobs.limitation.compute and .alerts):

1. compute every (proceeding, rule, financial year) into ``limitation_dates``: afresh
   for the proceedings whose inputs (or the rules and reference data) changed since the
   last run, a status refresh for the others; only changed rows are written, and a
   changed due date is logged in ``audit_log`` (old, new);
2. emit the day's events (thresholds, lapses, closing condonation windows, defences,
   the adjournment cap) once per threshold and date, and queue a ``limitation_alert``
   for each new one.

A re-run at the same ``--as-of`` writes nothing and queues nothing. Delivery is the
``deliver`` job's (every minute); messages queued before 08:00 wait until then. Events
are processed by the rules engine with the others (sla-check runs it every 15 minutes).
"""

from __future__ import annotations

from sqlalchemy import Connection

from gstjobs.core import JobContext, Results
from gstjobs.limitation import alerts, compute, findings

JOB_NAME = "limitation-watch"


def run(conn: Connection, ctx: JobContext) -> Results:
    tenants: list[object] = list(ctx.tenant_ids)
    computed = compute.compute(conn, tenants, ctx.as_of, run_id=ctx.run_id, job_name=JOB_NAME)
    fired = alerts.fire(
        conn,
        tenants,
        ctx.as_of,
        run_id=ctx.run_id,
        whatsapp=ctx.settings.whatsapp is not None,
        quiet_hours=ctx.settings.delivery.quiet_hours,
    )
    scanned, missing = findings.scan_counts(conn, tenants)
    return {
        "proceedingsScanned": scanned,
        "datesComputed": computed.dates,
        "datesRecomputed": computed.recomputed,
        "datesChanged": computed.written,
        "dueDatesChanged": computed.due_changed,
        "datesRemoved": computed.removed,
        "dueIn7Days": computed.due_in_7,
        "lapsedToday": computed.lapsed_today,
        "inCondonation": computed.in_condonation,
        "defencesFound": computed.defences,
        "inputsMissing": missing,
        "eventsEmitted": fired.events,
        "notificationsQueued": fired.notifications,
    }
