"""Every job runs through ``execute``: the lock, the ledger, the limits, the work.

A run holds its job's advisory lock on the *ledger* connection (see ``ledger``), so
a second run of the same job anywhere does nothing and is recorded ``skipped``. While
it works, a ``Guard`` keeps that session alive and the run inside its deadline; the
work connection has the run's statement and lock timeouts. The work runs first over
all selected practices in one transaction (the fast, set-based path); if that fails
it is retried practice by practice, each in its own transaction, so one practice's
bad data rolls back only its own changes. Each commit first checks, in the same
transaction, that the run still holds its lock: a run that lost it never commits.

Whatever ends a run (success, a failure, its deadline, a lost lock or connection, a
signal), it is recorded with its outcome and its ``audit_log`` row whenever a ledger
connection can be had, and that recording is itself bounded in time.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Engine, text

from gstjobs import ledger, slots
from gstjobs.clock import check_in_range
from gstjobs.config import Settings
from gstjobs.core import SILENT, JobContext, JobSpec, Progress, Results
from gstjobs.db import Database, connect, describe, is_connection_lost, make_engine
from gstjobs.errors import DatabaseUnavailable, GstjobsError, JobFailed, UsageError, first_line
from gstjobs.guard import (
    Guard,
    Stopped,
    hold_signals,
    release_signals,
    take_held_signal,
    within,
)
from gstjobs.migrate import require_current
from gstjobs.tenants import Selection, in_shard
from gstjobs.tenants import load as load_tenants

log = logging.getLogger(__name__)

LEDGER_STATEMENT_TIMEOUT_S = 30.0
"""A ledger statement is a single-row insert or update: it never needs long."""
RECORD_WAIT_S = 4.0
"""How long a stopped run waits to record itself before it gives up and exits."""
CANCEL_WAIT_S = 1.5
"""How long a stopped run waits for the server to cancel its running statement."""


AS_OF_TOLERANCE = timedelta(minutes=5)
"""How far from the database clock ``--as-of`` may be on a run that writes, without
``--force``: a run at another moment flags, sends and suppresses as if it were then."""


@dataclass(frozen=True)
class RunRequest:
    tenants: tuple[UUID, ...] = ()
    as_of: datetime | None = None
    dry_run: bool = False
    trigger: str = "manual"
    force: bool = False
    """Write as of ``as_of`` even when it is far from the database clock."""
    shard: str = ""
    """``K/N``: only the practices whose id falls in shard K of N (own lock, own rows)."""
    slot: datetime | None = None
    """The scheduled slot this run serves (``run-due`` names it); a scheduled run
    without one serves the latest slot at or before its start."""

    @property
    def scheduled(self) -> bool:
        return self.trigger == "scheduled" and not self.dry_run


@dataclass(frozen=True)
class TenantFailure:
    tenant_id: UUID
    error: str


@dataclass(frozen=True)
class RunOutcome:
    run_id: int
    job: str
    status: str
    """success, failed or skipped."""
    started_at: datetime
    duration_s: float
    as_of: datetime | None
    dry_run: bool
    database: str
    results: Results = field(default_factory=dict)
    error: str | None = None
    error_details: str | None = None
    failed_tenants: tuple[UUID, ...] = ()

    @property
    def exit_code(self) -> int:
        return 1 if self.status == "failed" else 0


@dataclass(frozen=True)
class Limits:
    deadline_s: float
    lock_timeout_s: float
    heartbeat_s: float

    @classmethod
    def of(cls, spec: JobSpec, settings: Settings) -> Limits:
        return cls(
            deadline_s=settings.deadline_for(spec.cli_name, spec.max_seconds),
            lock_timeout_s=settings.lock_timeout or spec.max_seconds,
            heartbeat_s=max(0.5, min(5.0, settings.network_timeout / 6)),
        )


def execute(
    spec: JobSpec,
    settings: Settings,
    db: Database,
    request: RunRequest,
    progress: Progress = SILENT,
) -> RunOutcome:
    if request.as_of is not None:
        check_in_range(request.as_of)
    limits = Limits.of(spec, settings)
    ledger_engine = make_engine(
        db, settings, purpose=spec.cli_name, statement_timeout_s=LEDGER_STATEMENT_TIMEOUT_S
    )
    work_engine = make_engine(
        db,
        settings,
        purpose=spec.cli_name,
        statement_timeout_s=limits.deadline_s,
        lock_timeout_s=limits.lock_timeout_s,
    )
    try:
        with connect(ledger_engine, db.label, autocommit=True) as conn:
            run: _Run | None = None
            locked = stuck = False
            try:
                # Until the run's guard is up nothing else would end a wait on a silent
                # link whose far end still acknowledges (a frozen proxy, a stuck
                # pooler: no keepalive fires): these few ledger statements are given
                # the network timeout, and at least the ledger's statement timeout (a
                # live server behind a lock answers first, with its own error: exit 1).
                silent = max(settings.network_timeout, LEDGER_STATEMENT_TIMEOUT_S + 2)
                try:
                    with within(silent, f"no answer from the database within {silent:g} s"):
                        require_current(conn)
                        shard = request.shard
                        if ledger.abandon_dead(conn, spec.name, shard):
                            log.warning(
                                "recorded the dead run(s) of %s as abandoned", spec.cli_name
                            )
                        tenants = in_shard(load_tenants(conn, request.tenants), shard)
                        now = conn.execute(text("SELECT now()")).scalar_one()
                        _check_time_travel(request, now)
                        # The slot a scheduled run serves; a dry run serves none, but is
                        # dated as the real run would be.
                        wanted = _slot(spec, settings, replace(request, dry_run=False), now)
                        slot = wanted if request.scheduled else None
                        request = _dated_by_slot(spec, settings, request, wanted, now)
                        if request.scheduled and (pause := slots.paused(conn).get(spec.name)):
                            message = (
                                f"skipped: {spec.cli_name} is paused since "
                                f"{pause.paused_at:%Y-%m-%d}"
                            )
                            message += f" ({pause.reason})" if pause.reason else ""
                            return _record_skipped(conn, spec, db, request, message, slot, "paused")
                        # A dry run changes nothing: it takes no lock, so it never makes a
                        # real run record itself skipped (and two dry runs may look at once).
                        if not request.dry_run:
                            locked = ledger.try_lock(conn, spec.name, shard)
                            if not locked:
                                holder = ledger.holder(conn, spec.name, shard)
                                message = "skipped: another run of this job holds its lock" + (
                                    f" (run #{holder})" if holder else ""
                                )
                                return _record_skipped(
                                    conn, spec, db, request, message, slot, "skipped", holder
                                )
                        served = slots.served_by(conn, spec.name, shard, slot) if slot else None
                        if served:  # another host's run served this slot already
                            message = f"skipped: run #{served} served this slot already"
                            return _record_skipped(
                                conn, spec, db, request, message, None, "", served
                            )
                except Stopped as exc:
                    stuck = True
                    raise DatabaseUnavailable(
                        f"{exc.reason} ({db.label}); nothing of this run was started"
                    ) from None
                run = _Run(spec, settings, db, request, limits, conn, ledger_engine, work_engine)
                run.progress = progress
                run.slot = slot
                return run.execute(tenants)
            finally:
                if stuck or (run is not None and not run.ledger_usable):
                    # Stuck: cancel what it ran, close it without waiting on it. A lock
                    # the session took lasts until the server ends the session (it
                    # notices a dead client by its own keepalives).
                    _abandon(conn)
                elif locked:
                    with suppress(Exception):
                        ledger.unlock(conn, spec.name, request.shard)
    finally:
        ledger_engine.dispose()
        work_engine.dispose()


def _check_time_travel(request: RunRequest, now: datetime) -> None:
    """UsageError for a writing run as of a moment far from the database clock."""
    if request.as_of is None or request.dry_run or request.force:
        return
    if abs(request.as_of - now) > AS_OF_TOLERANCE:
        days = abs(request.as_of - now).total_seconds() / 86400
        span = f"{days:.0f} day(s)" if days >= 1 else f"{days * 24:.1f} hour(s)"
        raise UsageError(
            f"--as-of is {span} from the database clock: a run that writes would flag, "
            "send and suppress as if it were then. Add --dry-run to look, or --force to "
            "write anyway (recorded in history)."
        )


def _slot(spec: JobSpec, settings: Settings, request: RunRequest, now: datetime) -> datetime | None:
    """The slot a scheduled run serves: the one named, else the latest at or before now."""
    if not request.scheduled:
        return None
    if request.slot is not None:
        check_in_range(request.slot)
        if request.slot - now > AS_OF_TOLERANCE:
            raise UsageError(
                "--slot is after the database clock: a run serves a scheduled time that "
                "has come (run-due names it)"
            )
        return request.slot
    return slots.slot_at(spec, settings.tz, now)


def _dated_by_slot(
    spec: JobSpec,
    settings: Settings,
    request: RunRequest,
    slot: datetime | None,
    now: datetime,
) -> RunRequest:
    """A scheduled run of a job kept per day that starts past its slot's grace or day
    (cron fired at 23:59, the run began at 00:01) works as of its slot
    (``slots.works_as_of``); an explicit ``--as-of`` stands."""
    if slot is None or request.as_of is not None:
        return request
    as_of = slots.works_as_of(spec, settings.tz, slot, now)
    if as_of is None:
        return request
    named = request.slot is not None and not (request.force or request.dry_run)
    if named and now - as_of > AS_OF_TOLERANCE:
        raise UsageError(
            f"--slot names {as_of.astimezone(settings.tz):%Y-%m-%d %H:%M}, and "
            f"{spec.cli_name} works as of its slot: as with --as-of, add --force to write "
            "as of then (run-due does), or --dry-run to look"
        )
    return replace(request, as_of=as_of)


def _record_skipped(
    conn: Connection,
    spec: JobSpec,
    db: Database,
    request: RunRequest,
    message: str,
    slot: datetime | None,
    slot_state: str,
    holder: int | None = None,
) -> RunOutcome:
    started = ledger.start(conn, **_start_fields(spec, request, "skipped"), blocked_by=holder)
    if slot is not None and slot_state:
        slots.not_served(conn, spec.name, request.shard, slot, started.run_id, state=slot_state)
    results: Results = {key: 0 for key in spec.result_keys}
    ledger.finish(
        conn,
        started.run_id,
        job=spec.name,
        status="skipped",
        duration_ms=0,
        as_of=request.as_of,
        results=results,
        error=message,
        error_details=None,
        dry_run=request.dry_run,
    )
    log.info("%s", message)
    return RunOutcome(
        started.run_id,
        spec.name,
        "skipped",
        started.started_at,
        0.0,
        request.as_of,
        request.dry_run,
        db.label,
        results,
        error=message,
    )


def _start_fields(spec: JobSpec, request: RunRequest, status: str) -> dict[str, Any]:
    return {
        "job": spec.name,
        "status": status,
        "trigger": request.trigger,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "as_of": request.as_of,
        "dry_run": request.dry_run,
        "tenants": request.tenants,
        "as_of_forced": request.force and request.as_of is not None,
        "shard": request.shard,
    }


class _Run:
    """One locked run: its record, its guard, its work and its sending."""

    def __init__(
        self,
        spec: JobSpec,
        settings: Settings,
        db: Database,
        request: RunRequest,
        limits: Limits,
        conn: Connection,
        ledger_engine: Engine,
        work_engine: Engine,
    ) -> None:
        self.spec, self.settings, self.db, self.request = spec, settings, db, request
        self.limits = limits
        self.ledger = conn
        self.ledger_engine = ledger_engine
        self.work_engine = work_engine
        self.ledger_usable = True
        self.progress: Progress = SILENT
        self.slot: datetime | None = None
        self.results: Results = {key: 0 for key in spec.result_keys}
        self.failures: list[TenantFailure] = []

    # ------------------------------------------------------------ the run
    def execute(self, tenants: Selection) -> RunOutcome:
        spec, request = self.spec, self.request
        began = time.monotonic()
        hold_signals()  # until the guard handles them: a SIGTERM now is recorded too
        try:
            # The guard is not up yet: without a bound, a reply lost on a silent link
            # (the row committed, its answer never back) would be waited for for ever,
            # with SIGTERM held. Bounded by the run's deadline, and by the ledger's own
            # statement timeout (with a margin for the server's answer to arrive first).
            bound = min(self.limits.deadline_s, LEDGER_STATEMENT_TIMEOUT_S + 2)
            with within(bound, f"no answer within {bound:g} s"):
                self.started = ledger.start(
                    self.ledger,
                    **_start_fields(spec, request, "running"),
                    deadline_s=self.limits.deadline_s,
                )
                if self.slot is not None:
                    self._serve_slot(self.slot)
        except BaseException as exc:
            held = take_held_signal()  # no guard to record it: the record is closed first
            release_signals()
            return self._failed_starting(exc, held, began)
        clock = time.monotonic()
        as_of = request.as_of or self.started.started_at
        ctx = JobContext(
            self.started.run_id,
            as_of,
            tenants.usable,
            request.dry_run,
            self.settings,
            self.progress,
        )
        self.failures.extend(TenantFailure(u.id, u.reason) for u in tenants.unusable)
        guard = Guard(
            deadline_s=self.limits.deadline_s,
            heartbeat_s=self.limits.heartbeat_s,
            ping=lambda: self.ledger.exec_driver_sql("SELECT 1").close(),
        )
        self.guard = guard
        error: GstjobsError | None = None
        stopped: Stopped | None = None
        sending = 0.0
        try:
            with guard:
                release_signals()
                if spec.work is not None and ctx.tenants:
                    self.results |= self._work(ctx)
                guard.check()
                if spec.send is not None:
                    self.progress.step(f"{spec.cli_name}: sending")
                    # After the commit, so a crash can never send an uncommitted row. A
                    # job's duration is its own work: its sending is reported apart.
                    began = time.monotonic()
                    try:
                        self.results |= spec.send(self.work_engine, ctx)
                    finally:
                        if spec.work is not None:
                            sending = time.monotonic() - began
                            self.results["deliverySeconds"] = round(sending, 3)
        except Stopped as exc:
            stopped = exc
            error = GstjobsError(exc.reason)
        except JobFailed as exc:
            # A job that fails on purpose (delivery with its channel down, say) says
            # what it did up to then; the run is recorded failed with those results.
            self.results |= exc.results
            error = exc
        except Exception as exc:
            log.debug("job failed", exc_info=True)
            error = GstjobsError(describe(exc) if _is_db_error(exc) else _name(exc))
        finally:
            release_signals()
            self.ledger_usable = guard.close() and not is_closed(self.ledger)
        if self.failures and error is None:
            error = GstjobsError(_describe(self.failures))
        if self.failures:
            self.results["failedTenants"] = [str(f.tenant_id) for f in self.failures]
        status = "failed" if error else "success"
        duration = time.monotonic() - clock - sending
        signalled = stopped is not None and stopped.signal_name is not None
        recorded = self._record(
            status,
            int(duration * 1000),
            as_of,
            error.message if error else None,
            error.details if error else None,
            budget=RECORD_WAIT_S if signalled else RECORD_WAIT_S + self.settings.connect_timeout,
        )
        if stopped is not None and signalled:
            raise stopped  # the command line ends as a signal says (exit 1 or 130)
        if not recorded:
            raise DatabaseUnavailable(
                f"could not record run #{self.started.run_id} in {self.db.label} "
                "(it will show as abandoned)",
                details=error.message if error else "it had succeeded",
            )
        return RunOutcome(
            self.started.run_id,
            spec.name,
            status,
            self.started.started_at,
            duration,
            as_of,
            request.dry_run,
            self.db.label,
            self.results,
            error.message if error else None,
            error.details if error else None,
            tuple(f.tenant_id for f in self.failures),
        )

    def _failed_starting(self, exc: BaseException, held: str | None, began: float) -> RunOutcome:
        """Opening the run's record (its ``running`` row, its slot) failed: no answer
        on the ledger session (``Stopped``: it is dropped), or an error (a statement
        timeout behind a lock). Close the record, if the run learnt it, as failed, on a
        new session when need be, bounded like any stopped run's; never leave it
        ``running``. A SIGTERM or SIGINT taken meanwhile is said in the error."""
        stuck = isinstance(exc, Stopped)
        if isinstance(exc, KeyboardInterrupt):
            held = held or "SIGINT"
        reason = exc.reason if isinstance(exc, Stopped) else first_line(exc) or type(exc).__name__
        if stuck:
            self.ledger_usable = False  # stuck on a silent link: execute() drops it
        started: ledger.Started | None = getattr(self, "started", None)
        if started is None:
            if held:  # nothing recorded: the command line ends as the signal says
                raise Stopped(f"interrupted by {held} ({reason})", signal_name=held) from exc
            if not stuck:
                raise exc
            raise DatabaseUnavailable(
                f"could not open the record of this run in {self.db.label}: {reason} "
                "(a record it made will show as abandoned)"
            )
        error = f"could not record the slot it serves: {reason}"
        if held:
            error += f" ({held} received meanwhile)"
        duration = time.monotonic() - began
        as_of = self.request.as_of or started.started_at
        budget = RECORD_WAIT_S + self.settings.connect_timeout
        if not self._record("failed", int(duration * 1000), as_of, error, None, budget=budget):
            raise DatabaseUnavailable(
                f"could not record run #{started.run_id} in {self.db.label} "
                "(it will show as abandoned)",
                details=error,
            )
        if held:  # recorded; the command line ends as the signal says (exit 1 or 130)
            raise Stopped(f"interrupted by {held}", signal_name=held)
        return RunOutcome(
            started.run_id,
            self.spec.name,
            "failed",
            started.started_at,
            duration,
            as_of,
            self.request.dry_run,
            self.db.label,
            self.results,
            error,
        )

    def _serve_slot(self, slot: datetime) -> None:
        """Record that this run serves ``slot`` (on time, late, or catching up) and that
        the slots before it since the last one recorded got no run."""
        tz, started = self.settings.tz, self.started.started_at
        latest = slots.slot_at(self.spec, tz, started)
        if slot < latest:
            state = "caught_up"
        elif started > slot + slots.grace(self.spec, tz, started):
            state = "late"
        else:
            state = "ran"
        shard = self.request.shard
        slots.record_missed(self.ledger, self.spec, shard, tz, slot)
        slots.claim(self.ledger, self.spec.name, shard, slot, self.started.run_id, state=state)

    # ------------------------------------------------------------ the work
    def _work(self, ctx: JobContext) -> Results:
        try:
            return self._in_transaction(ctx)
        except Exception as exc:
            if len(ctx.tenants) <= 1 or _is_fatal(exc):
                if _is_fatal(exc):
                    raise
                self.failures.extend(TenantFailure(t.id, _reason(exc)) for t in ctx.tenants)
                return {}
            log.info(
                "run over %d practices failed (%s); retrying practice by practice",
                len(ctx.tenants),
                type(exc).__name__,
            )
        parts: list[Results] = []
        for tenant in ctx.tenants:
            try:
                parts.append(self._in_transaction(ctx.only(tenant)))
            except Exception as exc:
                if _is_fatal(exc):
                    raise
                log.info("practice %s failed: %s", tenant.id, type(exc).__name__)
                self.failures.append(TenantFailure(tenant.id, _reason(exc)))
        return self.spec.merge(parts)

    def _in_transaction(self, ctx: JobContext) -> Results:
        assert self.spec.work is not None
        self.progress.step(f"{self.spec.cli_name}: working")
        with connect(self.work_engine, self.db.label) as conn:
            tx = conn.begin()
            try:
                results = self.spec.work(conn, ctx)
                self.guard.check()
                if ctx.dry_run:
                    tx.rollback()
                    return results
                self.progress.step(f"{self.spec.cli_name}: committing")
                with self.guard.deferred():
                    if not ledger.still_locked(
                        conn, self.spec.name, self.started.backend_pid, self.request.shard
                    ):
                        raise Stopped("lost its lock before committing; nothing was committed")
                    tx.commit()
                return results
            except Stopped:
                _abandon(conn)
                raise
            except BaseException:
                if tx.is_active:
                    with suppress(Exception):
                        tx.rollback()
                raise

    # ------------------------------------------------------------ the record
    def _record(
        self,
        status: str,
        duration_ms: int,
        as_of: datetime,
        error: str | None,
        details: str | None,
        *,
        budget: float,
    ) -> bool:
        """Close the run's record within ``budget`` seconds; whether it was written."""
        until = time.monotonic() + budget
        fields: dict[str, Any] = {
            "job": self.spec.name,
            "status": status,
            "duration_ms": duration_ms,
            "as_of": as_of,
            "results": self.results,
            "error": error,
            "error_details": details,
            "dry_run": self.request.dry_run,
        }

        def write(conn: Connection) -> None:
            ledger.finish(conn, self.started.run_id, **fields)

        if self.ledger_usable and _bounded(lambda: write(self.ledger), until - time.monotonic()):
            return True
        self.ledger_usable = False

        def reconnect() -> None:
            with connect(self.ledger_engine, self.db.label, autocommit=True) as conn:
                write(conn)

        return _bounded(reconnect, until - time.monotonic())


def _bounded(action: Callable[[], None], seconds: float) -> bool:
    """Run ``action`` in a helper thread; whether it finished without error in time.

    A write on a link gone silent would otherwise wait for the network timeout; a run
    that is stopping must not."""
    done: list[bool] = []

    def target() -> None:
        try:
            action()
            done.append(True)
        except Exception as exc:
            log.warning("could not record the run: %s", first_line(exc))

    thread = threading.Thread(target=target, name="gstjobs-record", daemon=True)
    thread.start()
    thread.join(seconds)
    return bool(done)


def _abandon(conn: Connection) -> None:
    """Give up the work connection of a stopped run: cancel what it runs (bounded) and
    close it without waiting on it; the server rolls back what it had not committed."""
    with suppress(Exception):
        raw: Any = conn.connection.dbapi_connection
        if raw is not None and raw.info.transaction_status == 1:  # ACTIVE: a query runs
            raw.cancel_safe(timeout=CANCEL_WAIT_S)
    _drop(conn)


def _drop(conn: Connection) -> None:
    """Close a connection at once, even one another thread is waiting on (libpq's
    socket is closed under it; psycopg's own lock is not taken)."""
    with suppress(Exception):
        raw: Any = conn.connection.dbapi_connection
        if raw is not None:
            raw.pgconn.finish()
    with suppress(Exception):
        conn.invalidate()


def is_closed(conn: Connection) -> bool:
    return conn.closed or conn.invalidated


def _is_db_error(exc: BaseException) -> bool:
    return hasattr(exc, "orig") or type(exc).__module__.startswith("psycopg")


def _is_fatal(exc: BaseException) -> bool:
    """Failures that no practice-by-practice retry can help: the database link is gone."""
    return isinstance(exc, DatabaseUnavailable) or is_connection_lost(exc)


def _reason(exc: BaseException) -> str:
    return describe(exc) if _is_db_error(exc) else _name(exc)


def _name(exc: BaseException) -> str:
    if isinstance(exc, GstjobsError):
        return exc.message
    return f"{type(exc).__name__}: {first_line(exc)}"


def _describe(failures: Sequence[TenantFailure]) -> str:
    first = failures[0]
    more = f" (and {len(failures) - 1} more practice(s))" if len(failures) > 1 else ""
    return f"tenant {first.tenant_id} failed: {first.error}{more}"
