"""Delivery's part of ``health-report``: the channels, and time spent sending.

CRITICAL: a channel is down (the last delivery found it unusable: connection
refused, login or token rejected); nothing goes out on it until it is fixed.
WARNING: a channel has been paused by its provider's rate limit for over an hour;
a queuing job's last run spent longer sending its own messages (``deliverySeconds``)
than 1.5x the deliver job's expected time (sending is judged apart from the job's
own work, which the job findings judge).
INFO: messages the provider accepted without a message id in the last 24 hours
(recorded as sent, never resent; their delivery is unconfirmed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text

from gstjobs.core import JobSpec
from gstjobs.health.automation import Finding
from gstjobs.notify import state

DELIVERY_JOB = "deliver-notifications"
LONG_PAUSE = timedelta(hours=1)
SENDING_FACTOR = 1.5
UNCONFIRMED_WINDOW = timedelta(hours=24)

LAST_SENDING = text(
    """
    SELECT DISTINCT ON (job_name) job_name,
           CAST(results ->> 'deliverySeconds' AS double precision) AS seconds
    FROM job_runs
    WHERE status IN ('success', 'failed') AND started_at <= :now
      AND job_name = ANY(:names)
    ORDER BY job_name, started_at DESC, id DESC
    """
)

UNCONFIRMED = text(
    """
    SELECT count(*) FROM notifications
    WHERE status = 'sent' AND provider_message_id IS NULL
      AND sent_at > :since AND sent_at <= :now
    """
)


@dataclass(frozen=True)
class Sending:
    job: str
    cli_name: str
    seconds: float


@dataclass(frozen=True)
class DeliveryHealth:
    channels: tuple[state.ChannelState, ...]
    sending: tuple[Sending, ...]
    expected_seconds: float
    unconfirmed: int
    now: datetime
    tz: ZoneInfo

    @property
    def channels_down(self) -> int:
        return sum(c.state == "down" for c in self.channels)

    def findings(self) -> list[Finding]:
        out: list[Finding] = []
        for c in self.channels:
            subject = f"channel {c.channel}"
            if c.state == "down":
                out.append(
                    Finding(
                        "CRITICAL",
                        subject,
                        f"down since {self._when(c.since)}: {c.reason}; fix it, then "
                        "`gstjobs notify retry` to send what waits",
                    )
                )
            elif (
                c.state == "paused"
                and c.paused_until is not None
                and c.paused_until - c.since > LONG_PAUSE
            ):
                out.append(
                    Finding(
                        "WARNING",
                        subject,
                        f"rate limited until {self._when(c.paused_until)}: {c.reason}",
                    )
                )
        limit = SENDING_FACTOR * self.expected_seconds
        for s in self.sending:
            if s.seconds > limit:
                out.append(
                    Finding(
                        "WARNING",
                        f"job {s.cli_name}",
                        f"its last run spent {s.seconds:.1f}s sending its own messages, over "
                        f"{limit:g}s (1.5x the deliver job's expected {self.expected_seconds:g}s)",
                    )
                )
        if self.unconfirmed:
            out.append(
                Finding(
                    "INFO",
                    "outbox",
                    f"{self.unconfirmed} message(s) in 24 h were accepted without a message id "
                    "(recorded as sent, not resent)",
                )
            )
        return out

    def _when(self, moment: datetime) -> str:
        return moment.astimezone(self.tz).strftime("%Y-%m-%d %H:%M %Z")


def delivery_health(
    conn: Connection, now: datetime, tz: ZoneInfo, specs: Sequence[JobSpec]
) -> DeliveryHealth:
    senders = {s.name: s for s in specs if s.send is not None and s.work is not None}
    deliver = next((s for s in specs if s.name == DELIVERY_JOB), None)
    expected = deliver.expected_seconds[1] if deliver else 10.0
    rows = conn.execute(LAST_SENDING, {"now": now, "names": list(senders)})
    sending = tuple(
        Sending(r.job_name, senders[r.job_name].cli_name, r.seconds)
        for r in rows
        if r.seconds is not None
    )
    unconfirmed = conn.execute(
        UNCONFIRMED, {"now": now, "since": now - UNCONFIRMED_WINDOW}
    ).scalar_one()
    return DeliveryHealth(tuple(state.states(conn, now)), sending, expected, unconfirmed, now, tz)
