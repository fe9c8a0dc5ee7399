"""A delivery run: the deliver job's ``send``, and the queuing jobs' ``send_own``.

``send_due`` (the ``deliver`` job, every minute, and ``gstjobs notify send``) sends
what is pending and due for the run's practices, urgent first, within
GSTJOBS_DELIVERY_DEADLINE; ``send_own`` (hearing-reminders, deadline-alerts) sends
only its own run's rows right after its commit, within GSTJOBS_SEND_BUDGET, and
leaves the rest (retries, backlog) to the deliver job. Both run ``deliver``:

1. read which channels are paused (``state``), list the practices with due rows and
   hold routine rows of those in quiet hours (``claim``);
2. claim messages practice by practice, urgent ones first, at most
   GSTJOBS_NOTIFY_CAP messages a practice (``claim``); build each message once
   (``compose``) and hand it to its channel's lane (``lanes``), which sends and
   records it (``record``);
3. when the deadline comes, stop claiming; what the lanes have not started goes back
   unsent; then record what was learnt of each channel and count what is left.

Outbox statements run on the database clock, not the job's ``as_of``: retries and
leases measure real time (a backfill with an old ``--as-of`` neither holds messages
back nor releases retries early). ``now`` fixes that clock, for tests only.
"""

from __future__ import annotations

import logging
import ssl
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Engine

from gstjobs.config import Settings
from gstjobs.core import JobContext, Results
from gstjobs.errors import JobFailed
from gstjobs.notify import claim, files, state
from gstjobs.notify.classify import Kind
from gstjobs.notify.compose import Composer, Rejected
from gstjobs.notify.email import SmtpTransport
from gstjobs.notify.files import FileTransport
from gstjobs.notify.lanes import Lane
from gstjobs.notify.message import Transport
from gstjobs.notify.record import Recorder, Tally
from gstjobs.notify.watchdog import Watchdog
from gstjobs.notify.whatsapp import WhatsAppTransport

log = logging.getLogger(__name__)

LEASE_SECONDS = 600.0
"""How long claimed rows stay a sender's; a sender never sends past it (``lanes``)."""
CLAIM_MESSAGES = 500
"""Messages taken per claiming statement."""
SWITCH_INTERVAL = 0.0005
PASSES = ((claim.SOON, claim.URGENT), (claim.ROUTINE, claim.ROUTINE))
"""Urgent and soon messages of every practice first, then routine ones."""


@dataclass(frozen=True)
class DeliveryReport:
    sent: int = 0
    """Notifications handed to their provider (a digest's items each count)."""
    failed: int = 0
    """Notifications whose attempt failed in this run (retrying or given up)."""
    retrying: int = 0
    """Of those, left pending for a later attempt."""
    deferred: int = 0
    """Due notifications left pending: over the cap, past the deadline, channel stopped."""
    messages: int = 0
    """Messages handed over (a digest is one)."""
    held: int = 0
    """Routine notifications waiting for the end of their practice's quiet hours."""
    unconfirmed: int = 0
    """Messages the provider accepted without a message id (sent; never resent)."""
    down: tuple[str, ...] = ()
    """``channel: reason`` of each channel found unusable in this run."""

    def results(self) -> Results:
        return {
            "notificationsSent": self.sent,
            "notificationsFailed": self.failed,
            "notificationsRetrying": self.retrying,
            "notificationsDeferred": self.deferred,
            "notificationsHeld": self.held,
            "messagesSent": self.messages,
            "messagesUnconfirmed": self.unconfirmed,
            "channelsDown": [d.split(":", 1)[0] for d in self.down],
        }


def send_due(engine: Engine, ctx: JobContext) -> Results:
    """The deliver job: everything due for ``ctx.tenants``; fails if a channel is down."""
    report = deliver(
        engine,
        ctx.settings,
        ctx.tenant_ids,
        budget=ctx.settings.delivery.run_deadline,
        dry_run=ctx.dry_run,
        run_id=ctx.run_id,
    )
    if report.down:
        channels = " and ".join(d.split(":", 1)[0] for d in report.down)
        raise JobFailed(
            f"{channels} channel{'s' if len(report.down) > 1 else ''} unusable: "
            + "; ".join(d.split(": ", 1)[1] for d in report.down),
            results=report.results(),
        )
    return report.results()


def send_own(engine: Engine, ctx: JobContext) -> Results:
    """A queuing job's send: its own run's rows, right after its commit, within a budget.

    A channel that is down is reported (``channelsDown``) but does not fail the job:
    its work, the queuing, succeeded; the deliver job, which retries every minute,
    is the one that fails and says so.
    """
    budget = ctx.settings.delivery.send_budget
    if ctx.dry_run or budget <= 0:
        return DeliveryReport().results()
    return deliver(
        engine, ctx.settings, ctx.tenant_ids, budget=budget, own_run=ctx.run_id, run_id=ctx.run_id
    ).results()


def drain(
    engine: Engine,
    settings: Settings,
    tenants: Sequence[UUID],
    *,
    now: datetime | None = None,
    run_id: int | None = None,
) -> DeliveryReport:
    """Deliver due rows of ``tenants`` (only run ``run_id``'s, when given), as the deliver
    job does. ``now`` replaces the database clock (tests)."""
    return deliver(
        engine,
        settings,
        tenants,
        budget=settings.delivery.run_deadline,
        own_run=run_id,
        now=now,
    )


def deliver(
    engine: Engine,
    settings: Settings,
    tenants: Sequence[UUID],
    *,
    budget: float,
    own_run: int | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    run_id: int | None = None,
) -> DeliveryReport:
    if not tenants:
        return DeliveryReport()
    scope = claim.Scope(list(tenants), own_run, settings.delivery.quiet_hours, now)
    return _Run(engine, settings, scope, budget, dry_run, run_id).run()


class _Run:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        scope: claim.Scope,
        budget: float,
        dry_run: bool,
        run_id: int | None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.scope = scope
        self.dry_run = dry_run
        self.run_id = run_id
        self.end = time.monotonic() + budget
        self.tally = Tally()
        self.lanes: dict[str, Lane] = {}
        self.paused: list[str] = []
        self.routes = {
            "email": "smtp" if settings.smtp is not None else "file",
            "whatsapp": "whatsapp" if settings.whatsapp is not None else "file",
            "console": "file",
        }
        self.composer = Composer(settings, self.routes)
        self._recorder: Recorder | None = None
        self._watchdog: Watchdog | None = None
        self._folder: Path | None = None

    def run(self) -> DeliveryReport:
        # The lanes' workers wait on sockets while this thread renders: let a worker
        # whose answer has arrived have the interpreter within half a millisecond,
        # not the default five, or every reply waits for a rendering slice.
        switch = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        try:
            return self._run()
        finally:
            sys.setswitchinterval(switch)

    def _run(self) -> DeliveryReport:
        with self.engine.connect() as raw:
            conn = raw.execution_options(isolation_level="AUTOCOMMIT")
            self.paused = state.paused(conn, self.scope.now)
            practices = claim.practices(conn, self.scope)
            if practices and not self.dry_run:
                claim.hold(conn, self.scope)
                self._folder = files.database_folder(conn, self.settings)
            try:
                self._claim_and_send(conn, practices)
            finally:
                self._finish_lanes()
            down = self._record_channels(conn)
            deferred, held = claim.left(conn, self.scope)
        t = self.tally
        if deferred:
            log.info("%d due notification(s) stay queued for the next delivery", deferred)
        return DeliveryReport(
            t.sent, t.failed, t.retrying, deferred, t.messages, held, t.unconfirmed, down
        )

    # ------------------------------------------------------------ claiming
    def _claim_and_send(self, conn: Connection, practices: list[claim.Practice]) -> None:
        room = {p.tenant_id: self.settings.notify_cap for p in practices}
        for lowest, highest in PASSES:
            for practice in practices:
                if self._time_up():
                    return
                # In quiet hours only urgent messages go; a pass skips a practice whose
                # due rows are all more urgent, or all less, than the pass takes.
                least = max(lowest, claim.URGENT) if practice.quiet else lowest
                if least > highest or practice.top < least or practice.bottom > highest:
                    continue
                while room[practice.tenant_id] > 0 and not self._time_up():
                    ask = min(room[practice.tenant_id], CLAIM_MESSAGES)
                    token = None if self.dry_run else uuid.uuid4()
                    rows = claim.take(
                        conn,
                        self.scope,
                        practice,
                        lowest=least,
                        highest=highest,
                        room=ask,
                        stopped=self.paused + self._stopped(),
                        token=token,
                        lease=LEASE_SECONDS,
                    )
                    if not rows:
                        break
                    taken = self._dispatch(rows, token)
                    room[practice.tenant_id] -= taken
                    if taken < ask or self.dry_run:
                        break

    def _dispatch(self, rows: list[Any], token: UUID | None) -> int:
        lease_end = time.monotonic() + LEASE_SECONDS
        most = self.settings.notify_max_attempts
        taken = 0
        for item in self.composer.compose(
            rows, token or uuid.uuid4(), lease_end, rows[0].claimed_at
        ):
            taken += 1
            n = len(item.claim.ids)
            if isinstance(item, Rejected):
                if self.dry_run:
                    self.tally.add(failed=n)
                else:
                    self.recorder.failed(item.claim, item.error, permanent=True, max_attempts=most)
            elif self.dry_run:
                self.tally.add(sent=n, messages=1)
            elif not self._lane(item.claim.channel).submit(item):
                self.recorder.release(item.claim, None, None)
        return taken

    def _time_up(self) -> bool:
        return time.monotonic() >= self.end

    def _stopped(self) -> list[str]:
        return [c for c, lane in self.lanes.items() if lane.stop_reason is not None]

    # ------------------------------------------------------------ lanes
    def _lane(self, channel: str) -> Lane:
        if channel not in self.lanes:
            route = self.routes.get(channel, "file")
            s = self.settings
            workers, timeout = 1, 30.0
            if route == "smtp" and s.smtp is not None:
                workers, timeout = s.delivery.smtp_connections, s.smtp.timeout
            elif route == "whatsapp" and s.whatsapp is not None:
                workers, timeout = s.delivery.whatsapp_connections, s.whatsapp.timeout
            self.lanes[channel] = Lane(
                channel,
                lambda: self._transport(route),
                workers,
                engine=self.engine,
                tally=self.tally,
                fixed_now=self.scope.now,
                run_end=self.end,
                send_timeout=timeout,
                max_attempts=s.notify_max_attempts,
            )
        return self.lanes[channel]

    def _transport(self, route: str) -> Transport:
        s = self.settings
        if route == "smtp" and s.smtp is not None:
            tls = self.tls if s.smtp.security != "none" else None
            return SmtpTransport(s.smtp, self.watchdog, tls)
        if route == "whatsapp" and s.whatsapp is not None:
            tls = self.tls if s.whatsapp.api_url.startswith("https:") else None
            return WhatsAppTransport(s.whatsapp, self.watchdog, tls)
        assert self._folder is not None
        return FileTransport(self._folder)

    @cached_property
    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context()  # loads the trust store once per run

    @property
    def watchdog(self) -> Watchdog:
        if self._watchdog is None:
            self._watchdog = Watchdog()
        return self._watchdog

    @property
    def recorder(self) -> Recorder:
        if self._recorder is None:
            self._recorder = Recorder(self.engine, self.tally, self.scope.now)
        return self._recorder

    def _finish_lanes(self) -> None:
        errors: list[BaseException] = []
        for lane in self.lanes.values():
            try:
                lane.finish()
            except BaseException as exc:
                errors.append(exc)
        if self._recorder is not None:
            self._recorder.close()
        if self._watchdog is not None:
            self._watchdog.close()
        if errors:
            raise errors[0]

    def _record_channels(self, conn: Connection) -> tuple[str, ...]:
        down = []
        for channel, lane in self.lanes.items():
            stop = lane.stop_reason
            args: dict[str, Any] = {"now": self.scope.now, "run_id": self.run_id}
            if stop is not None and stop.kind is Kind.UNUSABLE:
                state.record(conn, channel, "down", reason=stop.reason, **args)
                down.append(f"{channel}: {stop.reason}")
            elif stop is not None and stop.kind is Kind.RATE_LIMITED:
                state.record(conn, channel, "paused", reason=stop.reason, pause=stop.pause, **args)
            elif lane.delivered:
                state.record(conn, channel, "ok", **args)
        return tuple(down)
