"""What keeps a run inside its limits while it works: its deadline, its lock, signals.

A run is stopped by raising ``Stopped`` in the main thread, for one of three reasons:

- **its deadline** passed (``SIGALRM`` from an interval timer set at the start);
- **its lock was lost**: the ledger session that holds the job's advisory lock died
  (``idle_session_timeout``, a pooler or NAT dropping an idle link,
  ``pg_terminate_backend``). A heartbeat thread keeps that session busy, so idle
  timeouts never fire, and notices at once when it is gone (it then signals the main
  thread with ``SIGUSR1``);
- **a signal** from outside: ``SIGTERM`` (systemd stop, cron kill) or ``SIGINT``.

psycopg waits for the server in slices of 0.1 s and runs Python signal handlers
between them, so ``Stopped`` ends even a statement waiting on a silent network link
within a fraction of a second. Around a commit the guard defers stopping (the reason
is kept and raised right after), so a run never leaves a commit half-known.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)


STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})


def hold_signals() -> None:
    """Defer SIGTERM and SIGINT (from the main thread) until :func:`release_signals`.

    Between a run's ``running`` row and the guard's handlers a signal would otherwise
    kill the process with nothing recorded; held, it reaches the guard at once."""
    if threading.current_thread() is threading.main_thread():
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


@contextmanager
def signals_kept_from_new_threads() -> Iterator[None]:
    """Threads started in this block (Rich's progress refresh) never take SIGTERM or
    SIGINT: a thread inherits its creator's signal mask, so the kernel delivers those
    signals to the main thread, where a run holds or handles them. A signal sent
    meanwhile waits for the end of the block."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def take_held_signal() -> str | None:
    """Take a SIGTERM or SIGINT that :func:`hold_signals` deferred (its name, or None),
    so that releasing them does not end the process before the run's record is closed
    by whoever stops the run without its guard."""
    if threading.current_thread() is not threading.main_thread():
        return None
    taken = None
    while signal.sigpending() & STOP_SIGNALS:
        info = signal.sigtimedwait(STOP_SIGNALS, 0)
        if info is None:
            break
        taken = signal.Signals(info.si_signo).name
    return taken


def release_signals() -> None:
    """Deliver what :func:`hold_signals` deferred (idempotent)."""
    if threading.current_thread() is threading.main_thread():
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


class Stopped(BaseException):
    """The run was stopped from outside its work. ``reason`` says why, for the ledger."""

    def __init__(self, reason: str, *, signal_name: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.signal_name = signal_name


@contextmanager
def within(seconds: float, reason: str) -> Iterator[None]:
    """Raise ``Stopped(reason)`` in the main thread when the block outlasts ``seconds``.

    For what a run does on its ledger session before its ``Guard`` is up (opening its
    record): a reply lost on a silent link would otherwise be waited for for ever, since
    a link whose far end still acknowledges (a frozen proxy, a stuck pooler) trips no
    TCP keepalive or user timeout. psycopg runs signal handlers as it waits, so the
    wait ends within a fraction of a second of the limit."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only: unbounded, as before
        return
    armed = True

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        if armed:
            raise Stopped(reason)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))
    try:
        yield
    finally:
        armed = False  # an alarm from here on comes too late to matter
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


Ping = Callable[[], None]
"""One round trip on the ledger session; raises when the session is gone."""


class Guard:
    """Deadline, heartbeat and signal handling for one run (use as a context manager)."""

    def __init__(self, *, deadline_s: float, heartbeat_s: float, ping: Ping) -> None:
        self.deadline_s = deadline_s
        self.heartbeat_s = heartbeat_s
        self._ping = ping
        self._ledger_lock = threading.Lock()
        self._stop_heartbeat = threading.Event()
        self._thread: threading.Thread | None = None
        self._lost: str | None = None
        self._defer = 0
        self._pending: Stopped | None = None
        self._previous: dict[int, Any] = {}

    # ------------------------------------------------------------ lifecycle
    def __enter__(self) -> Guard:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM, signal.SIGUSR1):
            self._previous[signum] = signal.signal(signum, self._on_signal)
        signal.setitimer(signal.ITIMER_REAL, max(self.deadline_s, 0.001))
        self._thread = threading.Thread(target=self._heartbeat, name="gstjobs-heartbeat")
        self._thread.daemon = True
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self, wait_s: float = 2.0) -> bool:
        """Stop the timer, the heartbeat and the handlers; whether the ledger is free
        to use (False when the heartbeat is stuck on a dead link)."""
        signal.setitimer(signal.ITIMER_REAL, 0)
        self._stop_heartbeat.set()
        free = True
        if self._thread is not None:
            self._thread.join(wait_s)
            free = not self._thread.is_alive()
            self._thread = None
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
        return free and self._lost is None

    @property
    def lock_lost(self) -> str | None:
        """Why the lock was lost, if it was."""
        return self._lost

    # ------------------------------------------------------------ the ledger session
    @contextmanager
    def ledger(self) -> Iterator[None]:
        """Hold while using the ledger connection from the main thread."""
        with self._ledger_lock:
            yield

    def _heartbeat(self) -> None:
        while not self._stop_heartbeat.wait(self.heartbeat_s):
            try:
                with self._ledger_lock:
                    if self._stop_heartbeat.is_set():
                        return
                    self._ping()
            except Exception as exc:  # the session holding the lock is gone
                self._lost = f"lost its lock: the database session holding it ended ({exc})"
                log.warning("run %s", self._lost)
                signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGUSR1)
                return

    # ------------------------------------------------------------ stopping
    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGALRM:
            stop = Stopped(f"exceeded its deadline of {self.deadline_s:g} s")
        elif signum == signal.SIGUSR1:
            stop = Stopped(self._lost or "lost its lock")
        else:
            name = signal.Signals(signum).name
            stop = Stopped(f"interrupted by {name}", signal_name=name)
        if self._defer:
            self._pending = self._pending or stop
            return
        raise stop

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Do not stop inside this block (a commit); a stop that came is raised after."""
        self._defer += 1
        try:
            yield
        finally:
            self._defer -= 1
        if not self._defer and self._pending is not None:
            pending, self._pending = self._pending, None
            raise pending

    def check(self) -> None:
        """Raise the stop that is due, if any (between phases of the work)."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            raise pending
        if self._lost is not None:
            raise Stopped(self._lost)
