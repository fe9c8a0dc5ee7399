"""The health of the jobs themselves, from ``job_runs`` (seed, *Alerting Thresholds*).

CRITICAL: a job's last 3 runs failed (``failed`` or ``abandoned``); its last
finished run took over 2x the upper bound of its expected time; no job ran at all in
the last 24 hours; a notification has been due for over an hour and not sent (rows that
quiet hours hold back are not due until the window opens).
WARNING: over the last 7 days a job's success rate is below 90%, or more than 10% of
its runs had errors (failed, abandoned, or succeeded while reporting ``rulesFailed``
or ``notificationsFailed``; said only when the success rate did not already say it);
its last run took over 1.5x its expected time; it is late against its schedule
(``ledger.status``). Skipped runs (another run held the lock) count for nothing.
All thresholds are strict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text

from gstjobs import ledger, slots
from gstjobs.core import JobSpec
from gstjobs.health.automation import Finding

STREAK_CRITICAL = 3
CRITICAL_TIME_FACTOR = 2.0
WARNING_TIME_FACTOR = 1.5
WARNING_SUCCESS_PCT = 90
WARNING_ERROR_PCT = 10
STATS_DAYS = 7
REPEATED_SLOTS = 3
"""Late or skipped slots in 24 hours from which it is a pattern (WARNING)."""
SILENCE_HOURS = 24
OUTBOX_STALE = timedelta(hours=1)

JOB_STATS = text(
    """
    WITH runs AS (
        SELECT job_name, status, duration_ms, started_at,
               row_number() OVER (PARTITION BY job_name ORDER BY started_at DESC, id DESC) AS n,
               status IN ('failed', 'abandoned')
               OR CASE WHEN jsonb_typeof(results -> 'rulesFailed') = 'number'
                       THEN (results ->> 'rulesFailed')::numeric > 0 ELSE false END
               OR CASE WHEN jsonb_typeof(results -> 'notificationsFailed') = 'number'
                       THEN (results ->> 'notificationsFailed')::numeric > 0 ELSE false END
                   AS has_errors
        FROM job_runs
        WHERE status IN ('success', 'failed', 'abandoned') AND started_at <= :now
          AND NOT dry_run
    )
    SELECT j.name,
           coalesce(min(r.n) FILTER (WHERE r.status = 'success'), count(r.n) + 1) - 1
               AS failure_streak,
           (SELECT r2.duration_ms FROM runs r2
            WHERE r2.job_name = j.name AND r2.status IN ('success', 'failed')
            ORDER BY r2.n LIMIT 1) AS last_duration_ms,
           count(r.n) FILTER (WHERE r.started_at > :week_ago) AS runs_7d,
           count(r.n) FILTER (WHERE r.started_at > :week_ago AND r.status = 'success')
               AS succeeded_7d,
           count(r.n) FILTER (WHERE r.started_at > :week_ago AND r.has_errors) AS errors_7d
    FROM unnest(CAST(:names AS text[])) AS j (name)
    LEFT JOIN runs r ON r.job_name = j.name
    GROUP BY j.name
    """
)

SKIPPED_BEHIND_LONG_RUNS = text(
    """
    SELECT s.job_name, count(*) AS skipped, max(s.blocked_by) AS holder
    FROM job_runs s
    JOIN job_runs h ON h.id = s.blocked_by
    JOIN unnest(CAST(:names AS text[]), CAST(:intervals AS double precision[]))
         AS j (name, interval_s) ON j.name = s.job_name
    WHERE s.status = 'skipped' AND s.started_at > :since AND s.started_at <= :now
      AND s.started_at - h.started_at > make_interval(secs => j.interval_s)
    GROUP BY s.job_name
    """
)
"""Runs skipped because the run holding the lock had been at it longer than the job's
schedule interval: a scheduled run was lost to a run that should have ended."""

SLOTS_24H = text(
    """
    SELECT job_name,
           count(*) FILTER (WHERE state = 'missed' AND scheduled_at > :since) AS missed,
           count(*) FILTER (WHERE state IN ('late', 'skipped') AND scheduled_at > :since)
               AS late_or_skipped,
           max(scheduled_at) AS last
    FROM job_slots WHERE shard = '' AND scheduled_at <= :now
    GROUP BY job_name
    """
)

RAN_RECENTLY = text(
    """
    SELECT count(*) FROM job_runs
    WHERE status <> 'skipped' AND NOT dry_run AND started_at > :since AND started_at <= :now
    """
)

STALE_OUTBOX = text(
    """
    SELECT count(*) AS stale, min(created_at) AS oldest
    FROM notifications WHERE status = 'pending' AND next_attempt_at < :before
    """
)


@dataclass(frozen=True)
class JobHealth:
    job: str
    cli_name: str
    expected_seconds: tuple[float, float]
    last_status: str | None
    last_started: datetime | None
    last_duration_s: float | None
    failure_streak: int
    runs_7d: int
    succeeded_7d: int
    errors_7d: int
    late: bool
    max_seconds: float = 0.0
    running_for_s: float | None = None
    """How long the run still going has been running, if one is."""
    running_run_id: int | None = None
    skipped_behind_long_runs: int = 0
    """Runs skipped in the last 24 h behind a run older than the schedule interval."""
    schedule_interval_s: float = 0.0
    missed_daily_24h: int = 0
    """Slots of a daily job missed in the last 24 h (written, or not yet written)."""
    late_or_skipped_24h: int = 0

    @property
    def success_rate_7d(self) -> float | None:
        return round(100 * self.succeeded_7d / self.runs_7d, 2) if self.runs_7d else None

    @property
    def error_rate_7d(self) -> float | None:
        return round(100 * self.errors_7d / self.runs_7d, 2) if self.runs_7d else None

    def findings(self) -> list[Finding]:
        out: list[Finding] = []
        subject = f"job {self.cli_name}"

        def add(level: str, message: str) -> None:
            out.append(Finding(level, subject, message))

        if self.running_for_s is not None and self.running_for_s > self.max_seconds:
            add(
                "CRITICAL",
                f"run #{self.running_run_id} has been running for {self.running_for_s:.0f}s, "
                f"over its maximum of {self.max_seconds:g}s; see gstjobs status and "
                "pg_stat_activity",
            )
        if self.skipped_behind_long_runs:
            add(
                "WARNING",
                f"{self.skipped_behind_long_runs} scheduled run(s) in the last 24 h were "
                "skipped because another run held the lock for longer than the schedule "
                f"interval ({_span(self.schedule_interval_s)})",
            )
        if self.missed_daily_24h:
            add(
                "CRITICAL",
                f"missed {self.missed_daily_24h} scheduled run(s) in the last 24 h: no run came "
                "for its slot; see gstjobs history --slots, and gstjobs run-due to catch up",
            )
        if self.late_or_skipped_24h >= REPEATED_SLOTS:
            add(
                "WARNING",
                f"{self.late_or_skipped_24h} of its slots in the last 24 h ran late or were "
                "skipped; see gstjobs history --slots",
            )
        if self.failure_streak >= STREAK_CRITICAL:
            add(
                "CRITICAL",
                f"failed {self.failure_streak} times in a row; "
                f"see gstjobs history --job {self.cli_name} --status failed",
            )
        expected = self.expected_seconds[1]
        took = self.last_duration_s
        if took is not None and took > CRITICAL_TIME_FACTOR * expected:
            add("CRITICAL", f"last run took {took:.1f}s, over 2x its expected {expected:g}s")
        elif took is not None and took > WARNING_TIME_FACTOR * expected:
            add("WARNING", f"last run took {took:.1f}s, over 1.5x its expected {expected:g}s")
        low_success = self.runs_7d and self.succeeded_7d * 100 < WARNING_SUCCESS_PCT * self.runs_7d
        if low_success:
            add(
                "WARNING",
                f"success rate {self.success_rate_7d}% over {STATS_DAYS} days "
                f"({self.succeeded_7d} of {self.runs_7d} runs) is below {WARNING_SUCCESS_PCT}%",
            )
        elif self.runs_7d and self.errors_7d * 100 > WARNING_ERROR_PCT * self.runs_7d:
            add(
                "WARNING",
                f"errors in {self.errors_7d} of {self.runs_7d} runs over {STATS_DAYS} days "
                f"({self.error_rate_7d}%, over {WARNING_ERROR_PCT}%)",
            )
        if self.late:
            add(
                "WARNING",
                "has never run" if self.last_started is None else "is late against its schedule",
            )
        return out


@dataclass(frozen=True)
class SystemHealth:
    jobs: tuple[JobHealth, ...]
    runs_24h: int
    stale_notifications: int
    oldest_pending: datetime | None

    def findings(self) -> list[Finding]:
        out = [f for j in self.jobs for f in j.findings()]
        if self.runs_24h == 0:
            out.append(Finding("CRITICAL", "jobs", f"no job ran in the last {SILENCE_HOURS} h"))
        if self.stale_notifications:
            out.append(
                Finding(
                    "CRITICAL",
                    "outbox",
                    f"{self.stale_notifications} notification(s) due for over an hour and not sent "
                    f"(oldest queued {self.oldest_pending:%Y-%m-%d %H:%M %Z}); "
                    "is delivery running?",
                )
            )
        return out


def system_health(
    conn: Connection, now: datetime, tz: ZoneInfo, specs: Sequence[JobSpec]
) -> SystemHealth:
    names: Sequence[str] = [s.name for s in specs]
    stats = {
        r.name: r
        for r in conn.execute(
            JOB_STATS, {"now": now, "week_ago": now - timedelta(days=STATS_DAYS), "names": names}
        )
    }
    status = {s.job: s for s in ledger.status(conn, now, tz, specs)}
    intervals = {spec.name: schedule_interval(spec, now, tz) for spec in specs}
    day_ago = now - timedelta(hours=SILENCE_HOURS)
    slot_counts = {r.job_name: r for r in conn.execute(SLOTS_24H, {"since": day_ago, "now": now})}
    missed_daily = {
        spec.name: _missed_daily(spec, tz, now, slot_counts.get(spec.name), intervals[spec.name])
        for spec in specs
    }
    behind = {
        r.job_name: r.skipped
        for r in conn.execute(
            SKIPPED_BEHIND_LONG_RUNS,
            {
                "names": list(intervals),
                "intervals": list(intervals.values()),
                "since": now - timedelta(hours=SILENCE_HOURS),
                "now": now,
            },
        )
    }
    jobs = tuple(
        JobHealth(
            job=spec.name,
            cli_name=spec.cli_name,
            expected_seconds=spec.expected_seconds,
            last_status=status[spec.name].last_status,
            last_started=status[spec.name].last_started,
            last_duration_s=(
                stats[spec.name].last_duration_ms / 1000
                if stats[spec.name].last_duration_ms is not None
                else None
            ),
            failure_streak=stats[spec.name].failure_streak,
            runs_7d=stats[spec.name].runs_7d,
            succeeded_7d=stats[spec.name].succeeded_7d,
            errors_7d=stats[spec.name].errors_7d,
            late=status[spec.name].late,
            max_seconds=spec.max_seconds,
            running_for_s=status[spec.name].running_for_s,
            running_run_id=status[spec.name].last_run_id,
            skipped_behind_long_runs=behind.get(spec.name, 0),
            schedule_interval_s=intervals[spec.name],
            missed_daily_24h=missed_daily[spec.name],
            late_or_skipped_24h=(
                slot_counts[spec.name].late_or_skipped if spec.name in slot_counts else 0
            ),
        )
        for spec in specs
    )
    ran = conn.execute(
        RAN_RECENTLY, {"now": now, "since": now - timedelta(hours=SILENCE_HOURS)}
    ).scalar_one()
    outbox = conn.execute(STALE_OUTBOX, {"before": now - OUTBOX_STALE}).one()
    return SystemHealth(jobs, ran, outbox.stale, outbox.oldest)


def _missed_daily(
    spec: JobSpec, tz: ZoneInfo, now: datetime, counts: Any, interval_s: float
) -> int:
    """Missed slots of a daily (or rarer) job in the last 24 h: those written, and a slot
    past its grace after the last recorded one (no run has come to write it)."""
    if interval_s < 86400 or counts is None:
        return 0
    since = max(counts.last, now - timedelta(hours=SILENCE_HOURS))
    pending = slots.between(spec, tz, since, now - slots.grace(spec, tz, now))
    return int(counts.missed) + len(pending)


def schedule_interval(spec: JobSpec, now: datetime, tz: ZoneInfo) -> float:
    """Seconds between the job's next two scheduled times (900 for */15)."""
    _, first = ledger.schedule_times(spec, now, tz)
    _, second = ledger.schedule_times(spec, first, tz)
    return (second - first).total_seconds()


def _span(seconds: float) -> str:
    if seconds % 86400 == 0:
        return f"{seconds / 86400:g} d"
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    return f"{seconds / 60:g} min"
