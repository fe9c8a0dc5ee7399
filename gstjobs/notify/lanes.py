"""Per-channel sending: a bounded queue and a few workers, each with its own connections.

The delivering thread claims, renders and builds messages and hands them to the lane
of their channel; the lane's workers (``GSTJOBS_SMTP_CONNECTIONS``,
``GSTJOBS_WHATSAPP_CONNECTIONS``, one for files) each keep one provider connection
alive and one database connection for outcomes (``record``). The queue is small, so
the delivering thread never claims far ahead of what is being sent.

A worker sends a message only when it can finish before the run's deadline and
well within the rows' lease; otherwise it gives the rows back unsent, their attempt
refunded. When a send says the channel is unusable or rate limited, the lane stops:
that message and everything still queued for it go back without spending an
attempt (due at once, or when the pause ends), and the delivering thread claims
nothing more for the channel in this run. A send that outlives its own deadline
stops the lane too (the provider is too slow for this run), after recording that
one message's failed attempt.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from gstjobs.notify.classify import DeliveryError, Kind
from gstjobs.notify.message import Prepared, Transport
from gstjobs.notify.record import Recorder, Tally

log = logging.getLogger(__name__)

GRACE = 5.0
"""A send started before the run's deadline may run this much past it, no more."""
LEASE_MARGIN = 60.0
"""A message is sent only if its send would end this long before its lease does."""
QUEUE_PER_WORKER = 8


@dataclass(frozen=True)
class Stop:
    """Why a lane stopped taking messages in this run."""

    kind: Kind
    reason: str
    pause: float | None = None
    """RATE_LIMITED: seconds until the provider takes messages again."""


class Lane:
    def __init__(
        self,
        channel: str,
        transport: Callable[[], Transport],
        workers: int,
        *,
        engine: Engine,
        tally: Tally,
        fixed_now: datetime | None,
        run_end: float,
        send_timeout: float,
        max_attempts: int,
    ) -> None:
        self.channel = channel
        self.run_end = run_end
        self.send_timeout = send_timeout
        self.max_attempts = max_attempts
        self.stop_reason: Stop | None = None
        self.delivered = 0
        self.error: BaseException | None = None
        self._make_transport = transport
        self._engine = engine
        self._tally = tally
        self._fixed_now = fixed_now
        self._lock = threading.Lock()
        self._queue: queue.Queue[Prepared | None] = queue.Queue(workers * QUEUE_PER_WORKER)
        self._threads = [
            threading.Thread(target=self._work, name=f"gstjobs-{channel}-{n}", daemon=True)
            for n in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, message: Prepared) -> bool:
        """Queue a message; False when no worker is left to take it (the caller releases)."""
        while any(t.is_alive() for t in self._threads):
            try:
                self._queue.put(message, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def finish(self) -> None:
        """Let the workers empty the queue, then stop them; re-raise a worker's crash."""
        for _ in self._threads:
            while any(t.is_alive() for t in self._threads):
                try:
                    self._queue.put(None, timeout=0.5)
                    break
                except queue.Full:
                    continue
        for thread in self._threads:
            thread.join()
        if self.error is not None:
            raise self.error

    def stop(self, why: Stop) -> None:
        with self._lock:
            if self.stop_reason is None:
                self.stop_reason = why
                log.info("%s channel stopped for this run: %s", self.channel, why.reason)

    # ------------------------------------------------------------ workers
    def _work(self) -> None:
        recorder: Recorder | None = None
        transport: Transport | None = None
        try:
            recorder = Recorder(self._engine, self._tally, self._fixed_now)
            transport = self._make_transport()
            while (message := self._queue.get()) is not None:
                self._one(message, transport, recorder)
        except BaseException as exc:  # a database or programming failure: end the run
            log.debug("%s worker failed", self.channel, exc_info=True)
            self.error = exc
            self.stop(Stop(Kind.TRANSIENT, f"worker failed: {type(exc).__name__}"))
        finally:
            if transport is not None:
                transport.close()
            if recorder is not None:
                try:
                    recorder.close()
                except Exception as exc:
                    self.error = self.error or exc

    def _one(self, message: Prepared, transport: Transport, recorder: Recorder) -> None:
        claim = message.claim
        stopped = self.stop_reason
        if stopped is not None:
            recorder.release(claim, stopped.pause, None)
            return
        now = time.monotonic()
        deadline = min(now + self.send_timeout, self.run_end + GRACE)
        if now >= self.run_end or deadline > claim.lease_end - LEASE_MARGIN:
            recorder.release(claim, None, None)  # the next run sends it
            return
        try:
            provider_id = transport.send(message, deadline)
        except DeliveryError as exc:
            self._failed(message, exc, recorder)
            return
        except Exception as exc:  # a transport bug must not lose the rows
            log.debug("notification %d: transport error", claim.first, exc_info=True)
            error = f"{type(exc).__name__}: {exc}"
            recorder.failed(claim, error, permanent=False, max_attempts=self.max_attempts)
            return
        warning = None
        if provider_id is None:
            warning = "the provider accepted the message without a message id; not resent"
        recorder.sent(claim, provider_id, warning)
        with self._lock:
            self.delivered += 1

    def _failed(self, message: Prepared, exc: DeliveryError, recorder: Recorder) -> None:
        claim = message.claim
        if exc.kind is Kind.UNUSABLE:
            self.stop(Stop(Kind.UNUSABLE, str(exc)))
            recorder.release(claim, None, str(exc))
            return
        if exc.kind is Kind.RATE_LIMITED:
            self.stop(Stop(Kind.RATE_LIMITED, str(exc), exc.retry_after))
            recorder.release(claim, exc.retry_after, str(exc))
            return
        permanent = exc.kind is Kind.PERMANENT
        recorder.failed(claim, str(exc), permanent=permanent, max_attempts=self.max_attempts)
        if exc.timed_out:
            self.stop(Stop(Kind.TRANSIENT, str(exc)))
