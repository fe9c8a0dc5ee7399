"""What delivery knows of each channel: ok, down, or paused until a moment.

One row per outbox channel in ``delivery_channels``. A run that finds a channel
unusable marks it ``down`` (with the reason, and since when it has been down); a rate
limit marks it ``paused`` until the provider's moment, and runs do not claim its
rows until then; a successful send marks it ``ok``. ``notify list`` and
``health-report`` show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text

PAUSED = text(
    """
    SELECT channel FROM delivery_channels
    WHERE state = 'paused' AND paused_until > COALESCE(CAST(:now AS timestamptz), now())
    """
)

SET = text(
    """
    INSERT INTO delivery_channels (channel, state, paused_until, reason, since, checked_at, run_id)
    SELECT :channel, :state,
           m.now + make_interval(secs => CAST(:pause AS double precision)),
           :reason, m.now, m.now, :run_id
    FROM (SELECT COALESCE(CAST(:now AS timestamptz), now()) AS now) m
    ON CONFLICT (channel) DO UPDATE
    SET state = EXCLUDED.state, paused_until = EXCLUDED.paused_until, reason = EXCLUDED.reason,
        -- "down since" counts from the first run that found it down
        since = CASE WHEN delivery_channels.state = EXCLUDED.state
                     THEN delivery_channels.since ELSE EXCLUDED.since END,
        checked_at = EXCLUDED.checked_at, run_id = EXCLUDED.run_id
    """
)

ALL = text(
    """
    SELECT channel, state, paused_until, reason, since, checked_at
    FROM delivery_channels ORDER BY channel
    """
)


@dataclass(frozen=True)
class ChannelState:
    channel: str
    state: str
    """ok, down or paused (a pause that has run out reads as ok)."""
    paused_until: datetime | None
    reason: str | None
    since: datetime
    checked_at: datetime


def paused(conn: Connection, now: datetime | None) -> list[str]:
    """Channels whose pause has not run out: their rows are not claimed."""
    return list(conn.execute(PAUSED, {"now": now}).scalars())


def record(
    conn: Connection,
    channel: str,
    state: str,
    *,
    reason: str | None = None,
    pause: float | None = None,
    now: datetime | None = None,
    run_id: int | None = None,
) -> None:
    """Record a channel's state; ``pause``: seconds it stays paused from now."""
    conn.execute(
        SET,
        {
            "channel": channel,
            "state": state,
            "pause": pause,
            "reason": reason,
            "now": now,
            "run_id": run_id,
        },
    )


def states(conn: Connection, now: datetime) -> list[ChannelState]:
    out = []
    for r in conn.execute(ALL):
        state = "ok" if r.state == "paused" and r.paused_until <= now else r.state
        out.append(ChannelState(r.channel, state, r.paused_until, r.reason, r.since, r.checked_at))
    return out
