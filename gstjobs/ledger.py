"""The run ledger: every statement on ``job_runs`` (and each run's ``audit_log`` row).

A run holds a per-job session advisory lock on its *ledger* connection (autocommit,
apart from the job's own transaction), so a second run of the same job anywhere does
nothing and is recorded ``skipped``, and a job that fails and rolls back is still
recorded. A shard ``K/N`` holds the job's lock *shared* and its own ``job#K/N`` lock
exclusive: shards run side by side, but never beside an unsharded run of the job,
which holds the job's lock exclusive. A row still ``running`` whose backend no longer
holds its lock belongs to a process that died: readers show it as ``abandoned`` at
once, and the next run of that job writes it so (readers never write, so a read-only
monitoring role suffices).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import Connection, text

from gstjobs.core import JobSpec, Results

LATE_AFTER = timedelta(minutes=10)
"""A job is late when no run has started since its last scheduled time older than this."""

SYSTEM_TENANT = UUID(int=0)
"""``audit_log.tenant_id`` of run-level rows: a run spans tenants, and the column is NOT NULL."""


_LOCK_KEY = "hashtext('gstjobs'), hashtext(:job)"
_HOLDS_LOCK = """EXISTS (SELECT 1 FROM pg_locks l
                 WHERE l.locktype = 'advisory' AND l.granted AND l.pid = {pid}
                   AND l.classid = CAST(hashtext('gstjobs') AS oid)
                   AND l.objid = CAST(hashtext({job}) AS oid) AND l.objsubid = 2
                   AND l.mode = 'ExclusiveLock')"""
# pg_locks shows every session's locks to every role (pg_stat_activity hides details of
# other roles' sessions), so a monitoring user cannot mistake a live run for a dead one.
# Only the exclusive lock counts: a shard's shared hold on the job is not an unsharded run.
LOCK_NAME = "r.job_name || CASE WHEN r.shard = '' THEN '' ELSE '#' || r.shard END"
"""SQL: the name run ``r``'s lock is taken under: the job, or ``job#K/N`` for a shard."""
ALIVE = _HOLDS_LOCK.format(pid="r.backend_pid", job=LOCK_NAME)
"""SQL: run ``r`` (a job_runs row) is held by a live session."""
EFFECTIVE_STATUS = (
    f"CASE WHEN r.status = 'running' AND NOT {ALIVE} THEN 'abandoned' ELSE r.status END"
)
"""SQL: run ``r``'s status as it really is (a dead ``running`` row is ``abandoned``)."""

TRY_LOCK = text(f"SELECT pg_try_advisory_lock({_LOCK_KEY})")
UNLOCK = text(f"SELECT pg_advisory_unlock({_LOCK_KEY})")
TRY_LOCK_SHARED = text(f"SELECT pg_try_advisory_lock_shared({_LOCK_KEY})")
UNLOCK_SHARED = text(f"SELECT pg_advisory_unlock_shared({_LOCK_KEY})")
STILL_LOCKED = text(
    "SELECT " + _HOLDS_LOCK.format(pid="CAST(:backend_pid AS integer)", job="CAST(:job AS text)")
)
ABANDON_DEAD = text(
    f"""
    UPDATE job_runs r
    SET status = 'abandoned',
        finished_at = clock_timestamp(),
        duration_ms = LEAST(extract(epoch FROM clock_timestamp() - r.started_at) * 1000,
                            2147483647)::int,
        error = 'the process running this job died before recording an outcome'
    WHERE r.status = 'running' AND r.job_name = :job AND r.shard = :shard AND NOT {ALIVE}
    RETURNING r.id
    """
)
HOLDER = text(
    f"""
    SELECT r.id FROM job_runs r
    WHERE r.job_name = :job AND (r.shard = :shard OR r.shard = '' OR :shard = '')
      AND r.status = 'running' AND {ALIVE}
    ORDER BY r.id DESC LIMIT 1
    """
)
START = text(
    """
    INSERT INTO job_runs (job_name, status, trigger, host, pid, backend_pid, backend_start,
                          as_of, dry_run, tenant_filter, deadline_s, blocked_by, as_of_forced,
                          shard, started_at)
    SELECT :job, :status, :trigger, :host, :pid, a.pid, a.backend_start,
           :as_of, :dry_run, :tenant_filter, :deadline_s, :blocked_by, :as_of_forced,
           :shard, clock_timestamp()
    FROM pg_stat_activity a WHERE a.pid = pg_backend_pid()
    RETURNING id, started_at, backend_pid
    """
)
FINISH = text(
    """
    WITH done AS (
        UPDATE job_runs
        SET status = :status, finished_at = clock_timestamp(), duration_ms = :duration_ms,
            as_of = :as_of, results = CAST(:results AS jsonb),
            error = :error, error_details = :error_details
        WHERE id = :run_id
        RETURNING id
    )
    INSERT INTO audit_log (tenant_id, action_type, entity_type, details)
    SELECT :system_tenant, 'background_job_execution', 'background_job',
           CAST(:audit_details AS jsonb)
    FROM done
    """
)

STATUS_SQL = text(
    f"""
    WITH runs AS (
        SELECT r.id, r.job_name, {EFFECTIVE_STATUS} AS status, r.started_at, r.duration_ms,
               r.error
        FROM job_runs r
        WHERE r.job_name = ANY(CAST(:names AS text[])) AND NOT r.dry_run
    ), last AS (
        SELECT DISTINCT ON (job_name) job_name, id, status, started_at, duration_ms, error
        FROM runs WHERE status <> 'skipped'
        ORDER BY job_name, started_at DESC
    ), week AS (
        SELECT job_name,
               count(*) FILTER (WHERE status NOT IN ('skipped', 'running')) AS runs,
               count(*) FILTER (WHERE status = 'success') AS succeeded,
               count(*) FILTER (WHERE status IN ('failed', 'abandoned')) AS failed,
               count(*) FILTER (WHERE status = 'skipped') AS skipped
        FROM runs WHERE started_at > :now - interval '7 days'
        GROUP BY job_name
    ), ever AS (
        SELECT job_name, max(started_at) AS last_started FROM runs GROUP BY job_name
    ), shards AS (
        SELECT job_name, array_agg(shard || '=' || status ORDER BY shard) AS shards
        FROM (SELECT DISTINCT ON (r.job_name, r.shard) r.job_name, r.shard,
                     {EFFECTIVE_STATUS} AS status
              FROM job_runs r
              WHERE r.shard <> '' AND NOT r.dry_run AND r.status <> 'skipped'
                AND r.started_at > :now - interval '7 days'
              ORDER BY r.job_name, r.shard, r.started_at DESC) s
        GROUP BY job_name
    )
    SELECT j.name, l.id AS run_id, l.status, l.started_at, l.duration_ms, l.error,
           coalesce(w.runs, 0) AS runs, coalesce(w.succeeded, 0) AS succeeded,
           coalesce(w.failed, 0) AS failed, coalesce(w.skipped, 0) AS skipped,
           e.last_started, sh.shards
    FROM unnest(CAST(:names AS text[])) AS j (name)
    LEFT JOIN last l ON l.job_name = j.name
    LEFT JOIN week w ON w.job_name = j.name
    LEFT JOIN ever e ON e.job_name = j.name
    LEFT JOIN shards sh ON sh.job_name = j.name
    """
)

HISTORY_SQL = text(
    f"""
    SELECT * FROM (
        SELECT r.id, r.job_name, {EFFECTIVE_STATUS} AS status, r.trigger, r.host, r.pid,
               r.started_at, r.finished_at, r.duration_ms, r.as_of, r.dry_run, r.as_of_forced,
               r.results,
               CASE WHEN r.status = 'running' AND NOT {ALIVE}
                    THEN 'the process running this job died before recording an outcome'
                    ELSE r.error END AS error
        FROM job_runs r
        WHERE (CAST(:job AS text) IS NULL OR r.job_name = :job)
          AND (CAST(:since AS timestamptz) IS NULL OR r.started_at >= :since)
    ) r
    WHERE CAST(:status AS text) IS NULL OR r.status = :status
    ORDER BY r.started_at DESC, r.id DESC
    LIMIT :limit
    """
)


# ---------------------------------------------------------------- writing (the runner)
@dataclass(frozen=True)
class Started:
    run_id: int
    started_at: datetime
    backend_pid: int


def lock_name(job: str, shard: str = "") -> str:
    """The name a run's advisory lock is taken under (as LOCK_NAME computes it in SQL)."""
    return f"{job}#{shard}" if shard else job


def abandon_dead(conn: Connection, job: str, shard: str = "") -> int:
    """Record as ``abandoned`` the runs of ``job`` whose process died; how many."""
    return len(conn.execute(ABANDON_DEAD, {"job": job, "shard": shard}).fetchall())


def try_lock(conn: Connection, job: str, shard: str = "") -> bool:
    """Take the run's lock: the job's, exclusive; for a shard, the job's shared and then
    the shard's own exclusive (so an unsharded run and a shard exclude each other)."""
    if not shard:
        return bool(conn.execute(TRY_LOCK, {"job": job}).scalar_one())
    if not conn.execute(TRY_LOCK_SHARED, {"job": job}).scalar_one():
        return False
    if conn.execute(TRY_LOCK, {"job": lock_name(job, shard)}).scalar_one():
        return True
    conn.execute(UNLOCK_SHARED, {"job": job})
    return False


def unlock(conn: Connection, job: str, shard: str = "") -> None:
    conn.execute(UNLOCK, {"job": lock_name(job, shard)})
    if shard:
        conn.execute(UNLOCK_SHARED, {"job": job})


def holder(conn: Connection, job: str, shard: str = "") -> int | None:
    """The live run of ``job`` in the way of a run of ``shard``, if any: the same shard
    or an unsharded run; for an unsharded run, any."""
    return conn.execute(HOLDER, {"job": job, "shard": shard}).scalar()


def start(
    conn: Connection,
    *,
    job: str,
    status: str,
    trigger: str,
    host: str,
    pid: int,
    as_of: datetime | None,
    dry_run: bool,
    tenants: Sequence[UUID],
    deadline_s: float | None = None,
    blocked_by: int | None = None,
    as_of_forced: bool = False,
    shard: str = "",
) -> Started:
    """Open a run's record (``running``, or ``skipped`` closed at once by ``finish``)."""
    row = conn.execute(
        START,
        {
            "job": job,
            "status": status,
            "trigger": trigger,
            "host": host,
            "pid": pid,
            "as_of": as_of,
            "dry_run": dry_run,
            "tenant_filter": list(tenants) or None,
            "deadline_s": round(deadline_s) if deadline_s is not None else None,
            "blocked_by": blocked_by,
            "as_of_forced": as_of_forced,
            "shard": shard,
        },
    ).one()
    return Started(row.id, row.started_at, row.backend_pid)


def finish(
    conn: Connection,
    run_id: int,
    *,
    job: str,
    status: str,
    duration_ms: int,
    as_of: datetime | None,
    results: Results,
    error: str | None,
    error_details: str | None,
    dry_run: bool,
) -> None:
    """Close the run record and, in the same statement, write its audit_log row.

    Every run leaves one row (CONTRACT §3). Its ``status`` is ``success`` or
    ``failed``; a skipped run is a ``success`` that did nothing (``skipped: true``,
    no execution time) and a dry run says ``dry_run: true``.
    """
    audit: dict[str, Any] = {
        "job_name": job,
        "status": "failed" if status == "failed" else "success",
        "execution_time_ms": duration_ms,
        "run_id": run_id,
        **{snake(k): v for k, v in results.items()},
    }
    if status == "skipped":
        audit["skipped"] = True
    if dry_run:
        audit["dry_run"] = True
    if error:
        audit["error"] = error
    conn.execute(
        FINISH,
        {
            "run_id": run_id,
            "status": status,
            "duration_ms": duration_ms,
            "as_of": as_of,
            "results": json.dumps(results, default=str),
            "error": error,
            "error_details": error_details,
            "system_tenant": SYSTEM_TENANT,
            "audit_details": json.dumps(audit, default=str),
        },
    )


def still_locked(conn: Connection, job: str, backend_pid: int, shard: str = "") -> bool:
    """Does ``backend_pid`` (a run's ledger session) still hold ``job``'s lock?"""
    params = {"job": lock_name(job, shard), "backend_pid": backend_pid}
    return bool(conn.execute(STILL_LOCKED, params).scalar())


def snake(key: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)


# ---------------------------------------------------------------- reading
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
    """The last run took (or, still running, has taken) longer than the job's maximum."""
    max_seconds: float
    running_for_s: float | None
    """How long the run still going has been running, if one is."""
    shards: tuple[tuple[str, str], ...] = ()
    """(shard, outcome of its last run) for the shards run in the last 7 days."""
    paused: str | None = None
    """Why the job is paused (None: it is not)."""
    last_slot: datetime | None = None
    last_slot_state: str | None = None
    missed_7d: int = 0


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
    as_of_forced: bool = False


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
    names = [s.name for s in specs]
    rows = {r.name: r for r in conn.execute(STATUS_SQL, {"now": now, "names": names})}
    out = []
    for spec in specs:
        r = rows[spec.name]
        prev_due, _ = schedule_times(spec, now - LATE_AFTER, tz)
        late = r.last_started is None or r.last_started < prev_due - timedelta(minutes=1)
        counted = r.succeeded + r.failed
        running_for = (
            max((now - r.started_at).total_seconds(), 0.0) if r.status == "running" else None
        )
        took_ms = r.duration_ms if r.status != "running" else None
        out.append(
            JobStatus(
                job=spec.name,
                cli_name=spec.cli_name,
                schedule=spec.schedule,
                last_run_id=r.run_id,
                last_status=r.status,
                last_started=r.started_at,
                last_duration_s=took_ms / 1000 if took_ms is not None else None,
                last_error=r.error,
                runs_7d=r.runs,
                failures_7d=r.failed,
                skipped_7d=r.skipped,
                success_rate_7d=round(r.succeeded / counted, 4) if counted else None,
                next_due=schedule_times(spec, now, tz)[1],
                late=late,
                over_time=(took_ms is not None and took_ms > spec.max_seconds * 1000)
                or (running_for is not None and running_for > spec.max_seconds),
                max_seconds=spec.max_seconds,
                running_for_s=running_for,
                shards=tuple(_pair(s) for s in r.shards or ()),
            )
        )
    return out


def _pair(text: str) -> tuple[str, str]:
    shard, _, outcome = text.partition("=")
    return shard, outcome


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
            as_of_forced=r.as_of_forced,
        )
        for r in rows
    ]
