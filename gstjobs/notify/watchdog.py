"""A total deadline for every send, not only a timeout per socket read.

``SMTP_TIMEOUT`` and ``WHATSAPP_TIMEOUT`` bound each read; a server that answers one
byte a second never trips them and kept a run busy past its lease. The watchdog
holds the deadline of every send in progress and, when one passes, shuts its
socket down: the blocked read returns at once and the send fails as timed out. One
thread serves every send of a delivery run.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field


@dataclass
class Guard:
    """One send under a deadline. ``expired``: the watchdog cut it."""

    deadline: float
    sockets: Callable[[], socket.socket | None]
    """The send's socket, looked up when the deadline passes (it may be opened late)."""
    expired: bool = False
    _done: bool = field(default=False, repr=False)

    def cut(self) -> None:
        self.expired = True
        sock = self.sockets()
        if sock is not None:
            # The plain socket's shutdown, under any TLS layer: the reader wakes up with
            # an end of file or an error, and no TLS state is touched from this thread.
            with suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def remaining(self) -> float:
        return max(self.deadline - time.monotonic(), 0.0)


class Watchdog:
    """Cuts the sockets of sends that outlive their deadline."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._by_id: dict[int, Guard] = {}
        self._closed = False
        self._wakes_at: float | None = None
        """When the watchdog thread will look next (None: when told)."""
        self._thread = threading.Thread(target=self._run, name="gstjobs-watchdog", daemon=True)
        self._thread.start()

    @contextmanager
    def guard(
        self, deadline: float, sockets: Callable[[], socket.socket | None]
    ) -> Iterator[Guard]:
        g = Guard(deadline, sockets)
        with self._cond:
            self._by_id[id(g)] = g
            if self._wakes_at is None or deadline < self._wakes_at:
                self._cond.notify()  # only when it would otherwise look too late
        try:
            yield g
        finally:
            with self._cond:
                g._done = True
                self._by_id.pop(id(g), None)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                wait: float | None = None
                for g in list(self._by_id.values()):
                    if g.expired or g._done:
                        continue
                    if g.deadline <= now:
                        g.cut()
                    else:
                        left = g.deadline - now
                        wait = left if wait is None else min(wait, left)
                self._wakes_at = None if wait is None else now + wait
                self._cond.wait(timeout=wait)
