"""Delivery of the outbox: after each job commits (``deliver``) and by ``gstjobs notify send``.

For each tenant with due rows, up to ``Settings.notify_cap`` messages per call are
claimed in batches of BATCH (see ``outbox`` for the lease), rendered, handed to
their channel and recorded one by one, so a crash repeats at most the message in
flight. Recording an outcome is one UPDATE that reads the database clock itself;
a message costs no other round trip. What is over the cap stays pending for the
next call and is reported as ``notificationsDeferred``. A failed attempt is
recorded on its row with the error and retried with exponential backoff; after
``Settings.notify_max_attempts`` attempts (or at once when retrying cannot help: no
such recipient, no address, no WhatsApp opt-in or phone, a payload its template
cannot render; on the file channel too) the row is ``failed``.

The outbox runs on the database clock (``statement_timestamp()``), not on the job's ``as_of``:
retries and leases measure real time between real sends, and a backfill run with
an old ``--as-of`` must neither hold messages back nor release retries early.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Engine

from gstjobs.config import Settings
from gstjobs.core import JobContext, Results
from gstjobs.notify import outbox
from gstjobs.notify.console import FileChannel
from gstjobs.notify.email import SmtpChannel
from gstjobs.notify.message import Channel, DeliveryError, Outgoing, Recipient, scrub
from gstjobs.notify.templates import Envelope, RenderError, render
from gstjobs.notify.whatsapp import WhatsAppChannel

log = logging.getLogger(__name__)

BATCH = 20
"""Rows claimed per statement; the lease must outlast sending one batch."""
MIN_LEASE_SECONDS = 600.0


@dataclass(frozen=True)
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    """Attempts that failed in this call (retrying or given up)."""
    retrying: int = 0
    """Of those, rows left pending for a later attempt."""
    deferred: int = 0
    """Due rows left pending because of the per-tenant cap."""

    def results(self) -> Results:
        return {
            "notificationsSent": self.sent,
            "notificationsFailed": self.failed,
            "notificationsRetrying": self.retrying,
            "notificationsDeferred": self.deferred,
        }


def send_own(engine: Engine, ctx: JobContext) -> Results:
    """A job's ``send``: deliver the rows this run queued, right after its commit.

    Everything else (retries, other runs' backlog) is the delivery job's."""
    if ctx.dry_run:
        return DeliveryReport().results()
    return drain(engine, ctx.settings, ctx.tenant_ids, run_id=ctx.run_id).results()


def send_due(engine: Engine, ctx: JobContext) -> Results:
    """The delivery job's ``send``: everything pending and due for ``ctx.tenants``."""
    if ctx.dry_run:
        with engine.connect() as conn:
            due = conn.execute(
                outbox.COUNT_DUE, {"tenants": ctx.tenant_ids, "now": None, "run_id": None}
            ).scalar_one()
        return DeliveryReport(deferred=due).results()
    return drain(engine, ctx.settings, ctx.tenant_ids).results()


def drain(
    engine: Engine,
    settings: Settings,
    tenants: Sequence[UUID],
    *,
    now: datetime | None = None,
    run_id: int | None = None,
) -> DeliveryReport:
    """Deliver due notifications of ``tenants`` (only run ``run_id``'s, when given).
    ``now`` replaces the database clock (tests)."""
    if not tenants:
        return DeliveryReport()
    channels = _Channels(settings)
    sent = failed = retrying = 0
    try:
        with engine.connect() as raw:
            conn = raw.execution_options(isolation_level="AUTOCOMMIT")
            due = conn.execute(
                outbox.DUE_BY_TENANT, {"tenants": list(tenants), "now": now, "run_id": run_id}
            ).fetchall()
            for row in due:
                room = settings.notify_cap
                while room > 0:
                    limit = min(room, BATCH)
                    batch = conn.execute(
                        outbox.CLAIM,
                        {
                            "tenant": row.tenant_id,
                            "now": now,
                            "limit": limit,
                            "lease": _lease(settings),
                            "run_id": run_id,
                        },
                    ).fetchall()
                    if not batch:
                        break
                    room -= len(batch)
                    clock = _Clock(batch[0].claimed_at, fixed=now is not None)
                    for claimed in batch:
                        outcome = _send_one(conn, channels, settings, claimed, clock, now)
                        sent += outcome == "sent"
                        failed += outcome != "sent"
                        retrying += outcome == "retrying"
                    if len(batch) < limit:
                        break  # nothing more is due for this tenant (or others hold it)
            deferred = conn.execute(
                outbox.COUNT_DUE, {"tenants": list(tenants), "now": now, "run_id": run_id}
            ).scalar_one()
    finally:
        channels.close()
    if deferred:
        log.warning("%d notification(s) over the per-tenant cap stay queued", deferred)
    return DeliveryReport(sent, failed, retrying, deferred)


@dataclass(frozen=True)
class _Clock:
    """The database clock at the claim, carried forward by the local monotonic clock.

    A message's envelope needs the moment it is sent (its Date header, "Today" and
    "Tomorrow"); reading the database clock for each message would cost a round trip
    per message. ``fixed``: the moment given to ``drain`` stands still (tests).
    """

    claimed_at: datetime
    fixed: bool
    started: float = field(default_factory=time.monotonic)

    def now(self) -> datetime:
        if self.fixed:
            return self.claimed_at
        return self.claimed_at + timedelta(seconds=time.monotonic() - self.started)


def _send_one(
    conn: Connection,
    channels: _Channels,
    settings: Settings,
    row: Any,
    clock: _Clock,
    now: datetime | None,
) -> str:
    """Send one claimed row and record the outcome (one UPDATE): sent, retrying or failed."""
    try:
        message = _outgoing(row, settings, clock.now())
        channel = channels.for_channel(row.channel)
        try:
            provider_id = channel.send(message)
        except DeliveryError:
            raise
        except Exception as exc:  # a channel bug must not lose the row or stop the batch
            log.debug("notification %d: channel error", row.id, exc_info=True)
            raise DeliveryError(scrub(f"{type(exc).__name__}: {exc}")) from exc
    except DeliveryError as exc:
        return _record_failure(conn, settings, row, exc, now)
    done = conn.execute(
        outbox.MARK_SENT,
        {"id": row.id, "attempts": row.attempts, "now": now, "provider_id": provider_id},
    ).rowcount
    if not done:
        log.warning("notification %d: its lease ran out while sending; it may go twice", row.id)
    return "sent"


def _record_failure(
    conn: Connection, settings: Settings, row: Any, exc: DeliveryError, now: datetime | None
) -> str:
    give_up = exc.permanent or row.attempts >= settings.notify_max_attempts
    conn.execute(
        outbox.MARK_FAILED,
        {
            "id": row.id,
            "attempts": row.attempts,
            "give_up": give_up,
            "error": scrub(str(exc)),
            "now": now,
            "backoff": outbox.backoff(row.attempts).total_seconds(),
        },
    )
    log.warning(
        "notification %d: attempt %d failed%s",
        row.id,
        row.attempts,
        "; giving up" if give_up else "; will retry",
    )
    return "failed" if give_up else "retrying"


def _outgoing(row: Any, settings: Settings, now: datetime) -> Outgoing:
    if not row.active:
        raise DeliveryError("the recipient is not an active user of this tenant", permanent=True)
    envelope = Envelope(
        notification_id=row.id,
        recipient_name=row.full_name,
        firm_name=row.firm_name,
        timezone=row.timezone,
        now=now,
        base_url=settings.app_base_url,
    )
    try:
        rendered = render(row.template, row.payload, envelope)
    except RenderError as exc:
        raise DeliveryError(str(exc), permanent=True) from exc
    recipient = Recipient(row.user_id, row.full_name, row.email, row.phone, row.whatsapp_opt_in)
    return Outgoing(
        row.id, row.tenant_id, row.channel, row.template, row.payload, recipient, envelope, rendered
    )


def _lease(settings: Settings) -> float:
    timeouts = [s.timeout for s in (settings.smtp, settings.whatsapp) if s is not None]
    return max(MIN_LEASE_SECONDS, BATCH * 2 * max(timeouts, default=0.0) + 60)


def outbox_dir(settings: Settings) -> Path:
    return settings.outbox_dir or settings.data_dir / "outbox"


class _Channels:
    """The transports of one delivery call, opened on first use, closed at the end."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._open: dict[str, Channel] = {}

    def for_channel(self, channel: str) -> Channel:
        s = self.settings
        if channel == "email" and s.smtp is not None:
            key = "smtp"
        elif channel == "whatsapp" and s.whatsapp is not None:
            key = "whatsapp"
        else:
            key = "file"  # console rows, and email/WhatsApp with no provider configured
        if key not in self._open:
            self._open[key] = self._make(key)
        return self._open[key]

    def _make(self, key: str) -> Channel:
        s = self.settings
        if key == "smtp" and s.smtp is not None:
            return SmtpChannel(s.smtp)
        if key == "whatsapp" and s.whatsapp is not None:
            return WhatsAppChannel(s.whatsapp)
        sender = s.smtp.sender if s.smtp else "gstjobs@localhost"
        return FileChannel(outbox_dir(s), sender)

    def close(self) -> None:
        for channel in self._open.values():
            channel.close()
        self._open.clear()
