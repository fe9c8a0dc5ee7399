"""Reading the run ledger: ``gstjobs status`` and ``gstjobs history``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import Connection, text

from gstjobs.core import JobSpec

LATE_AFTER = timedelta(minutes=10)
"""A job is late when no run has started since its last scheduled time older than this."""

STATUS_SQL = text(
    """
    WITH last AS (
        SELECT DISTINCT ON (job_name) job_name, id, status, started_at, duration_ms, error
        FROM job_runs WHERE status <> 'skipped'
        ORDER BY job_name, started_at DESC
    ), week AS (
        SELECT job_name,
               count(*) FILTER (WHERE status <> 'skipped') AS runs,
               count(*) FILTER (WHERE status = 'success') AS succeeded,
               count(*) FILTER (WHERE status IN ('failed', 'abandoned')) AS failed,
               count(*) FILTER (WHERE status = 'skipped') AS skipped,
               max(started_at) AS last_started
        FROM job_runs WHERE started_at > :now - interval '7 days'
        GROUP BY job_name
    ), ever AS (
        SELECT job_name, max(started_at) AS last_started FROM job_runs GROUP BY job_name
    )
    SELECT j.name, l.id AS run_id, l.status, l.started_at, l.duration_ms, l.error,
           coalesce(w.runs, 0) AS runs, coalesce(w.succeeded, 0) AS succeeded,
           coalesce(w.failed, 0) AS failed, coalesce(w.skipped, 0) AS skipped,
           e.last_started
    FROM unnest(CAST(:names AS text[])) AS j (name)
    LEFT JOIN last l ON l.job_name = j.name
    LEFT JOIN week w ON w.job_name = j.name
    LEFT JOIN ever e ON e.job_name = j.name
    """
)

HISTORY_SQL = text(
    """
    SELECT id, job_name, status, trigger, host, pid, started_at, finished_at, duration_ms,
           as_of, dry_run, results, error
    FROM job_runs
    WHERE (CAST(:job AS text) IS NULL OR job_name = :job)
      AND (CAST(:status AS text) IS NULL OR status = :status)
      AND (CAST(:since AS timestamptz) IS NULL OR started_at >= :since)
    ORDER BY started_at DESC, id DESC
    LIMIT :limit
    """
)

RUN_STATUSES = ("running", "success", "failed", "skipped", "abandoned")


@dataclass(frozen=True)
class JobStatus:
    job: str
    cli_name: str
    schedule: str
    last_run_id: int | None
    last_status: str | None
    last_started: datetime | None
    last_duration_s: float | None
    last_error: str | None
    runs_7d: int
    failures_7d: int
    skipped_7d: int
    success_rate_7d: float | None
    next_due: datetime
    late: bool
    over_time: bool
    """The last run took longer than the job's maximum acceptable time."""


@dataclass(frozen=True)
class RunRow:
    id: int
    job: str
    status: str
    trigger: str
    host: str
    pid: int
    started_at: datetime
    finished_at: datetime | None
    duration_s: float | None
    as_of: datetime | None
    dry_run: bool
    results: dict[str, Any] | None
    error: str | None


def schedule_times(spec: JobSpec, now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """(last scheduled time at or before ``now``, next scheduled time after it), aware."""
    local = now.astimezone(tz)
    it = croniter(spec.schedule, local)
    nxt: datetime = it.get_next(datetime)
    prev: datetime = croniter(spec.schedule, local + timedelta(seconds=1)).get_prev(datetime)
    return prev, nxt


def status(
    conn: Connection, now: datetime, tz: ZoneInfo, specs: Sequence[JobSpec]
) -> list[JobStatus]:
    """One row per job of ``specs`` (the registry, passed in by the caller)."""
    rows = {
        r.name: r for r in conn.execute(STATUS_SQL, {"now": now, "names": [s.name for s in specs]})
    }
    out = []
    for spec in specs:
        r = rows[spec.name]
        prev_due, _ = schedule_times(spec, now - LATE_AFTER, tz)
        late = r.last_started is None or r.last_started < prev_due - timedelta(minutes=1)
        counted = r.succeeded + r.failed
        out.append(
            JobStatus(
                job=spec.name,
                cli_name=spec.cli_name,
                schedule=spec.schedule,
                last_run_id=r.run_id,
                last_status=r.status,
                last_started=r.started_at,
                last_duration_s=r.duration_ms / 1000 if r.duration_ms is not None else None,
                last_error=r.error,
                runs_7d=r.runs,
                failures_7d=r.failed,
                skipped_7d=r.skipped,
                success_rate_7d=round(r.succeeded / counted, 4) if counted else None,
                next_due=schedule_times(spec, now, tz)[1],
                late=late,
                over_time=r.duration_ms is not None and r.duration_ms > spec.max_seconds * 1000,
            )
        )
    return out


def history(
    conn: Connection, *, job: str | None, status: str | None, since: datetime | None, limit: int
) -> list[RunRow]:
    rows = conn.execute(HISTORY_SQL, {"job": job, "status": status, "since": since, "limit": limit})
    return [
        RunRow(
            id=r.id,
            job=r.job_name,
            status=r.status,
            trigger=r.trigger,
            host=r.host,
            pid=r.pid,
            started_at=r.started_at,
            finished_at=r.finished_at,
            duration_s=r.duration_ms / 1000 if r.duration_ms is not None else None,
            as_of=r.as_of,
            dry_run=r.dry_run,
            results=r.results,
            error=r.error,
        )
        for r in rows
    ]
