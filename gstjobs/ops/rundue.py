"""``gstjobs run-due``: what is due now, by each job's catch-up and overlap policy.

One crontab line (``* * * * * gstjobs run-due``) or one timer can stand for every job:
each minute it asks, for every job that is not paused, which of its scheduled slots no
run has served, and decides by the job's policy (``gstjobs.core.CATCH_UP``):

- ``latest``: one run, for the latest slot (older ones stay missed);
- ``today-only``: the latest slot only while it is still the same local day;
- ``each-day``: each unserved slot of the catch-up window, oldest first, as of its
  own moment (a night of downtime costs no snapshot).

With overlap ``skip`` a slot that comes while the job still runs is tried anyway (the
run records itself skipped: the slot shows ``skipped``); with ``buffer-one`` it is left
for the next minute, when the running one has ended. Several hosts may call
``run-due`` at once: each slot still runs once (the job's lock and the slot ledger).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text

from gstjobs import ledger, slots
from gstjobs.core import JobSpec

SERVED_AMONG = text(
    f"""
    SELECT s.scheduled_at FROM job_slots s
    WHERE s.job_name = :job AND s.shard = :shard
      AND s.scheduled_at = ANY(CAST(:slots AS timestamptz[])) AND {slots.SERVING}
    """
)


@dataclass(frozen=True)
class Due:
    """One run to start: the job, the slot it serves, and as of when it works."""

    spec: JobSpec
    slot: datetime
    as_of: datetime | None
    """None: the moment it runs (the database clock); a catch-up works as of its slot."""
    shard: str = ""


@dataclass(frozen=True)
class Held:
    """A job left for a later minute (paused, or still running with buffer-one)."""

    spec: JobSpec
    reason: str


def plan(
    conn: Connection,
    specs: Sequence[JobSpec],
    tz: ZoneInfo,
    now: datetime,
    *,
    shard: str = "",
) -> tuple[list[Due], list[Held]]:
    """The runs due at ``now``, and the jobs held back, with why."""
    paused = slots.paused(conn)
    due: list[Due] = []
    held: list[Held] = []
    for spec in specs:
        if spec.name in paused:
            held.append(Held(spec, f"paused: {paused[spec.name].reason or 'no reason given'}"))
            continue
        wanted = _wanted(conn, spec, tz, now, shard)
        if not wanted:
            continue
        if spec.overlap == "buffer-one" and ledger.holder(conn, spec.name, shard) is not None:
            held.append(Held(spec, "its previous run is still going; the slot waits for it"))
            continue
        due.extend(wanted)
    return due, held


def _wanted(conn: Connection, spec: JobSpec, tz: ZoneInfo, now: datetime, shard: str) -> list[Due]:
    latest = slots.slot_at(spec, tz, now)
    last = conn.execute(slots.LAST_RECORDED, {"job": spec.name, "shard": shard}).scalar()
    if spec.catch_up == "each-day" and last is not None:
        window = now - timedelta(days=spec.catch_up_days)
        candidates = slots.between(spec, tz, max(window, last - timedelta(seconds=1)), latest)
    else:
        candidates = [latest]
    served = set(
        conn.execute(
            SERVED_AMONG, {"job": spec.name, "shard": shard, "slots": candidates}
        ).scalars()
    )
    open_ = [s for s in candidates if s not in served]
    if spec.catch_up == "today-only":
        today = now.astimezone(tz).date()
        open_ = [s for s in open_ if s.astimezone(tz).date() == today]
    if spec.catch_up == "each-day":
        return [Due(spec, s, slots.works_as_of(spec, tz, s, now), shard) for s in open_]
    return [Due(spec, s, None, shard) for s in open_[-1:]]
