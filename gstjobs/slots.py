"""The ledger of expected runs: every scheduled slot of a job, and what became of it.

A *slot* is one moment a job's schedule asks for a run (10:15 for ``*/15 * * * *``).
A scheduled run serves the latest slot at or before its start: ``ran``, or ``late``
when it started more than the job's grace after it; a run that found the job's lock
held leaves it ``skipped``, a paused job ``paused``; slots no run came for are
``missed`` (written by the job's next scheduled run, counted by readers until then),
and ``caught up`` when ``run-due`` served them later. The key (job, shard, slot) makes
every slot run at most once across hosts: a second host's run for a slot already
served records itself skipped.

All SQL on ``job_slots`` and ``job_pauses`` is here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import Connection, text

from gstjobs.core import JobSpec
from gstjobs.ledger import ALIVE, JobStatus

STATES = ("ran", "late", "skipped", "missed", "caught_up", "paused")
SERVED = ("ran", "late", "caught_up")
MAX_GRACE = timedelta(minutes=10)
LOOKBACK = timedelta(days=7)
"""How far back missed slots are written and counted."""
MAX_MISSED = 2000
"""At most this many missed slots are written at once (a minutely job down for a day)."""

# A slot is served by a run that succeeded, or that is still going (its session holds the
# job's lock). One that failed or died did not serve it: another run may.
SERVING = f"""
    s.state IN ('ran', 'late', 'caught_up') AND EXISTS (
        SELECT 1 FROM job_runs r
        WHERE r.id = s.run_id
          AND (r.status = 'success' OR (r.status = 'running' AND {ALIVE})))
"""
SERVED_BY = text(
    f"""
    SELECT s.run_id FROM job_slots s
    WHERE s.job_name = :job AND s.shard = :shard AND s.scheduled_at = :slot AND {SERVING}
    """
)
CLAIM = text(
    f"""
    INSERT INTO job_slots AS s (job_name, shard, scheduled_at, state, run_id)
    VALUES (:job, :shard, :slot, :state, :run_id)
    ON CONFLICT (job_name, shard, scheduled_at) DO UPDATE
        SET state = EXCLUDED.state, run_id = EXCLUDED.run_id, recorded_at = now()
        WHERE NOT ({SERVING})
    RETURNING s.state
    """
)
"""Serve a slot: a new row, or one no run has served (missed, skipped, paused, or its
run failed or died); never one that another run serves (then nothing is returned)."""
NOT_SERVED = text(
    """
    INSERT INTO job_slots (job_name, shard, scheduled_at, state, run_id)
    VALUES (:job, :shard, :slot, :state, :run_id)
    ON CONFLICT (job_name, shard, scheduled_at) DO NOTHING
    """
)
LAST_RECORDED = text(
    "SELECT max(scheduled_at) FROM job_slots WHERE job_name = :job AND shard = :shard"
)
MISSED = text(
    """
    INSERT INTO job_slots (job_name, shard, scheduled_at, state)
    SELECT :job, :shard, s, 'missed' FROM unnest(CAST(:slots AS timestamptz[])) AS s
    ON CONFLICT (job_name, shard, scheduled_at) DO NOTHING
    """
)
PAUSED = text("SELECT job_name, paused_at, reason, paused_by FROM job_pauses")
PAUSE = text(
    """
    INSERT INTO job_pauses (job_name, reason, paused_by) VALUES (:job, :reason, :by)
    ON CONFLICT (job_name) DO UPDATE SET reason = EXCLUDED.reason, paused_by = EXCLUDED.paused_by,
                                        paused_at = now()
    """
)
RESUME = text("DELETE FROM job_pauses WHERE job_name = :job RETURNING paused_at")
RECENT = text(
    """
    SELECT s.job_name, s.shard, s.scheduled_at, s.state, s.run_id, s.recorded_at
    FROM job_slots s
    WHERE (CAST(:job AS text) IS NULL OR s.job_name = :job)
      AND s.scheduled_at >= :since AND s.scheduled_at <= :now
    ORDER BY s.scheduled_at DESC, s.job_name
    LIMIT :limit
    """
)
COUNTS = text(
    """
    SELECT job_name, state, count(*) AS n, max(scheduled_at) AS last
    FROM job_slots WHERE scheduled_at > :since AND scheduled_at <= :now
    GROUP BY job_name, state
    """
)


# ---------------------------------------------------------------- schedule arithmetic
def slot_at(spec: JobSpec, tz: ZoneInfo, moment: datetime) -> datetime:
    """The latest scheduled time at or before ``moment`` (aware)."""
    local = moment.astimezone(tz) + timedelta(seconds=1)
    slot: datetime = croniter(spec.schedule, local).get_prev(datetime)
    return slot


def next_slot(spec: JobSpec, tz: ZoneInfo, moment: datetime) -> datetime:
    slot: datetime = croniter(spec.schedule, moment.astimezone(tz)).get_next(datetime)
    return slot


def interval(spec: JobSpec, tz: ZoneInfo, moment: datetime) -> timedelta:
    """The time between the two scheduled times after ``moment``."""
    first = next_slot(spec, tz, moment)
    return next_slot(spec, tz, first) - first


def grace(spec: JobSpec, tz: ZoneInfo, moment: datetime) -> timedelta:
    """How long after its slot a run may start and still be on time: a third of the
    interval, at most ten minutes (20 s for a minutely job, 5 min for every 15 min)."""
    return min(MAX_GRACE, interval(spec, tz, moment) / 3)


def works_as_of(spec: JobSpec, tz: ZoneInfo, slot: datetime, now: datetime) -> datetime | None:
    """As of when a scheduled run for ``slot`` starting at ``now`` works.

    Jobs kept per day (catch-up ``each-day``: the nightly snapshot) work as of their
    slot unless they start within its grace on the slot's own local day: the 23:59
    snapshot begun at 00:01, or caught up days later, is still the snapshot of its own
    day, not of the next. Every other job (and an on-time run) works as of the moment
    it runs: None."""
    if spec.catch_up != "each-day":
        return None
    same_day = now.astimezone(tz).date() == slot.astimezone(tz).date()
    return None if same_day and now - slot <= grace(spec, tz, now) else slot


def between(
    spec: JobSpec, tz: ZoneInfo, after: datetime, until: datetime, limit: int = MAX_MISSED
) -> list[datetime]:
    """Scheduled times in (after, until], oldest first, at most ``limit`` (the latest).

    A wall-clock time that happens twice (the hour repeated when daylight saving ends)
    is one slot, its first occurrence, as cron runs it once."""
    it = croniter(spec.schedule, until.astimezone(tz) + timedelta(seconds=1))
    out: list[datetime] = []
    while len(out) < limit:
        slot: datetime = it.get_prev(datetime)
        if slot <= after:
            break
        if out and out[-1].replace(tzinfo=None) == slot.replace(tzinfo=None):
            out[-1] = slot  # the earlier of the two
            continue
        out.append(slot)
    return out[::-1]


# ---------------------------------------------------------------- the ledger
@dataclass(frozen=True)
class Pause:
    job: str
    paused_at: datetime
    reason: str
    paused_by: str


def served_by(conn: Connection, job: str, shard: str, slot: datetime) -> int | None:
    """The run that served this slot (succeeded) or is serving it, if there is one."""
    run_id: int | None = conn.execute(
        SERVED_BY, {"job": job, "shard": shard, "slot": slot}
    ).scalar()
    return run_id


def claim(
    conn: Connection, job: str, shard: str, slot: datetime, run_id: int, *, state: str
) -> bool:
    """Record that run ``run_id`` serves ``slot`` (``ran``, ``late`` or ``caught_up``);
    False when another run served it first."""
    params = {"job": job, "shard": shard, "slot": slot, "state": state, "run_id": run_id}
    return conn.execute(CLAIM, params).first() is not None


def not_served(
    conn: Connection, job: str, shard: str, slot: datetime, run_id: int | None, *, state: str
) -> None:
    """Record a slot a run came for but did not serve (``skipped``, ``paused``)."""
    params = {"job": job, "shard": shard, "slot": slot, "state": state, "run_id": run_id}
    conn.execute(NOT_SERVED, params)


def record_missed(
    conn: Connection, spec: JobSpec, shard: str, tz: ZoneInfo, before: datetime
) -> int:
    """Write ``missed`` for the slots since the last recorded one and before ``before``
    (within LOOKBACK); how many."""
    last = conn.execute(LAST_RECORDED, {"job": spec.name, "shard": shard}).scalar()
    if last is None:
        return 0  # the first slot seen: nothing was expected before gstjobs knew the job
    floor = max(last, before - LOOKBACK)
    missed = [s for s in between(spec, tz, floor, before) if s < before]
    if missed:
        conn.execute(MISSED, {"job": spec.name, "shard": shard, "slots": missed})
    return len(missed)


def paused(conn: Connection) -> dict[str, Pause]:
    return {
        r.job_name: Pause(r.job_name, r.paused_at, r.reason, r.paused_by)
        for r in conn.execute(PAUSED)
    }


def pause(conn: Connection, job: str, reason: str, by: str) -> None:
    conn.execute(PAUSE, {"job": job, "reason": reason, "by": by})


def resume(conn: Connection, job: str) -> bool:
    """Whether the job was paused."""
    return conn.execute(RESUME, {"job": job}).first() is not None


@dataclass(frozen=True)
class SlotRow:
    job: str
    shard: str
    scheduled_at: datetime
    state: str
    run_id: int | None


def recent(
    conn: Connection, *, job: str | None, since: datetime, now: datetime, limit: int
) -> list[SlotRow]:
    rows = conn.execute(RECENT, {"job": job, "since": since, "now": now, "limit": limit})
    return [SlotRow(r.job_name, r.shard, r.scheduled_at, r.state, r.run_id) for r in rows]


LAST_SLOTS = text(
    """
    SELECT DISTINCT ON (job_name) job_name, scheduled_at, state
    FROM job_slots WHERE shard = '' AND scheduled_at <= :now
    ORDER BY job_name, scheduled_at DESC
    """
)


def annotate(
    conn: Connection,
    rows: Sequence[JobStatus],
    specs: Sequence[JobSpec],
    tz: ZoneInfo,
    now: datetime,
) -> list[JobStatus]:
    """``ledger.status`` rows with what the slot ledger knows: paused, the last slot and
    what became of it, the slots missed over LOOKBACK."""
    pauses = paused(conn)
    last = {r.job_name: r for r in conn.execute(LAST_SLOTS, {"now": now})}
    missed = missed_counts(conn, specs, tz, now)
    out = []
    for row in rows:
        pause = pauses.get(row.job)
        seen = last.get(row.job)
        out.append(
            replace(
                row,
                paused=(pause.reason or "paused") if pause else None,
                last_slot=seen.scheduled_at if seen else None,
                last_slot_state=seen.state if seen else None,
                missed_7d=missed.get(row.job, 0),
            )
        )
    return out


def missed_counts(
    conn: Connection, specs: Sequence[JobSpec], tz: ZoneInfo, now: datetime
) -> dict[str, int]:
    """Missed slots per job over LOOKBACK: those written, and those since the last
    recorded slot that no run has come to write yet (a job whose cron stopped)."""
    since = now - LOOKBACK
    written: dict[str, int] = {}
    last: dict[str, datetime] = {}
    for r in conn.execute(COUNTS, {"since": since, "now": now}):
        if r.state == "missed":
            written[r.job_name] = written.get(r.job_name, 0) + r.n
        if r.job_name not in last or r.last > last[r.job_name]:
            last[r.job_name] = r.last
    out = {}
    for spec in specs:
        pending = 0
        if spec.name in last:
            # Slots after the last recorded one whose grace has passed.
            due = now - grace(spec, tz, now)
            pending = len(between(spec, tz, last[spec.name], due))
        out[spec.name] = written.get(spec.name, 0) + pending
    return out
