"""``gstjobs metrics``: the state of the jobs and the outbox in Prometheus text format.

For the node-exporter textfile collector (``--textfile /var/lib/node_exporter/
gstjobs.prom``, written atomically: a scrape never sees half a file) or any scraper
that reads the text format. Built with ``prometheus-client`` from what ``status``,
``health-report`` and ``notify list`` read; read only, so a monitoring role with
SELECT alone may run it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry, Gauge
from sqlalchemy import Connection, text

from gstjobs import ledger, slots
from gstjobs.core import JobSpec
from gstjobs.notify import state as channels

OUTBOX = text("SELECT channel, status, count(*) AS n FROM notifications GROUP BY 1, 2")
LAST_SUCCESS = text(
    """
    SELECT job_name, max(finished_at) AS at FROM job_runs
    WHERE status = 'success' AND NOT dry_run GROUP BY job_name
    """
)
LAST_RESULTS = text(
    """
    SELECT DISTINCT ON (job_name) job_name, results FROM job_runs
    WHERE status IN ('success', 'failed') AND NOT dry_run AND results IS NOT NULL
    ORDER BY job_name, started_at DESC
    """
)
OUTCOMES = ("success", "failed", "skipped", "abandoned", "running")
STATUSES = ("pending", "sent", "failed")
CHANNEL_STATES = ("ok", "paused", "down")


def collect(
    conn: Connection, specs: Sequence[JobSpec], tz: ZoneInfo, now: datetime
) -> CollectorRegistry:
    """A registry holding every metric, read at ``now``."""
    registry = CollectorRegistry()

    def gauge(name: str, doc: str, labels: Sequence[str]) -> Gauge:
        return Gauge(name, doc, labels, registry=registry)

    last_success = gauge(
        "gstjobs_job_last_success_timestamp_seconds", "When the job last succeeded.", ["job"]
    )
    last_run = gauge(
        "gstjobs_job_last_run_timestamp_seconds", "When the job's last run started.", ["job"]
    )
    duration = gauge(
        "gstjobs_job_last_run_duration_seconds", "How long the job's last run took.", ["job"]
    )
    outcome = gauge(
        "gstjobs_job_last_run_outcome",
        "1 for the outcome of the job's last run, 0 for the others.",
        ["job", "outcome"],
    )
    next_slot = gauge(
        "gstjobs_job_next_slot_timestamp_seconds", "The job's next scheduled time.", ["job"]
    )
    overdue = gauge(
        "gstjobs_job_overdue_seconds",
        "How long a scheduled run of the job is overdue (0 when it is not late).",
        ["job"],
    )
    missed = gauge("gstjobs_job_missed_slots", "Scheduled runs missed in the last 7 days.", ["job"])
    paused = gauge("gstjobs_job_paused", "1 when the job is paused.", ["job"])
    items = gauge(
        "gstjobs_job_last_run_items",
        "What the job's last run counted, by result key.",
        ["job", "key"],
    )
    outbox = gauge(
        "gstjobs_outbox_notifications", "Notifications in the outbox.", ["channel", "status"]
    )
    channel_state = gauge(
        "gstjobs_channel_state",
        "1 for the channel's state, 0 for the others.",
        ["channel", "state"],
    )

    rows = slots.annotate(conn, ledger.status(conn, now, tz, specs), specs, tz, now)
    successes = {r.job_name: r.at for r in conn.execute(LAST_SUCCESS)}
    results = {r.job_name: r.results for r in conn.execute(LAST_RESULTS)}
    for spec, row in zip(specs, rows, strict=True):
        job = spec.cli_name
        if spec.name in successes and successes[spec.name] is not None:
            last_success.labels(job).set(successes[spec.name].timestamp())
        if row.last_started is not None:
            last_run.labels(job).set(row.last_started.timestamp())
        if row.last_duration_s is not None:
            duration.labels(job).set(row.last_duration_s)
        for name in OUTCOMES:
            outcome.labels(job, name).set(1 if row.last_status == name else 0)
        next_slot.labels(job).set(row.next_due.timestamp())
        latest = slots.slot_at(spec, tz, now)
        due = latest + slots.grace(spec, tz, now)
        waiting = row.paused is None and (row.last_started is None or row.last_started < latest)
        overdue.labels(job).set(max((now - due).total_seconds(), 0) if waiting else 0)
        missed.labels(job).set(row.missed_7d)
        paused.labels(job).set(1 if row.paused is not None else 0)
        for key, value in (results.get(spec.name) or {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                items.labels(job, key).set(value)
    counts = {(r.channel, r.status): r.n for r in conn.execute(OUTBOX)}
    for (channel, status), n in counts.items():
        outbox.labels(channel, status).set(n)
    for known in channels.states(conn, now):
        for name in CHANNEL_STATES:
            channel_state.labels(known.channel, name).set(1 if known.state == name else 0)
    return registry


def as_json(registry: CollectorRegistry) -> dict[str, Any]:
    """The registry as one JSON document (``gstjobs metrics --json``): the same families
    and samples as the text format, for scripts that read JSON."""
    return {
        "metrics": [
            {
                "name": family.name,
                "type": family.type,
                "help": family.documentation,
                "samples": [
                    {"name": s.name, "labels": dict(s.labels), "value": s.value}
                    for s in family.samples
                ],
            }
            for family in registry.collect()
        ]
    }
