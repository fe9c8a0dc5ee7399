"""Recording outcomes: one statement per message, pipelined behind the next send.

Each worker records on its own connection in libpq's pipeline mode: the UPDATE for
message k, followed by a sync point (so it is a transaction of its own), is written
to the server before message k+1 is handed to its provider; the server runs and
commits it whatever then becomes of this process, and the worker reads its result
whenever it has arrived, never waiting for it. So a killed sender repeats at most the
message in flight, as with a round trip per message, without waiting for one. Only
the holder of a claim (its token) can record its rows; a row whose lease ran out
while it was being sent is reported, not overwritten.

The statements are prepared once per connection (planning an UPDATE cost more than
running it) and take libpq's positional parameters ($1, …), bound, never formatted in.
"""

from __future__ import annotations

import logging
import select
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from psycopg import pq
from sqlalchemy import Engine

from gstjobs.errors import DatabaseUnavailable
from gstjobs.notify.message import Claim, scrub

log = logging.getLogger(__name__)

NOW = "COALESCE($3::timestamptz, statement_timestamp())"
BACKOFF = (
    "make_interval(secs => LEAST(300 * power(2, LEAST(GREATEST(attempts - 1, 0), 16)), 21600))"
)
"""5 minutes after the first failed attempt, then 10, 20, 40, … at most 6 hours."""

MARK_SENT = f"""
    UPDATE notifications
    SET status = 'sent', sent_at = {NOW}, provider_message_id = $4, last_error = $5,
        claim_token = NULL
    WHERE id = ANY($1::bigint[]) AND claim_token = $2::uuid AND status = 'pending'
    RETURNING id
""".encode()
"""$4: the provider's id (NULL: accepted without one); $5: a warning, or NULL."""

MARK_FAILED = f"""
    UPDATE notifications
    SET status = CASE WHEN $4::boolean OR attempts >= $5::int THEN 'failed' ELSE 'pending' END,
        next_attempt_at = CASE WHEN $4::boolean OR attempts >= $5::int THEN next_attempt_at
                               ELSE {NOW} + {BACKOFF} END,
        last_error = $6, claim_token = NULL
    WHERE id = ANY($1::bigint[]) AND claim_token = $2::uuid AND status = 'pending'
    RETURNING status
""".encode()
"""$4: failed for good now (permanent); $5: GSTJOBS_NOTIFY_MAX_ATTEMPTS; $6: the error."""

RELEASE = f"""
    UPDATE notifications
    SET attempts = GREATEST(attempts - 1, 0), claim_token = NULL,
        next_attempt_at = {NOW} + make_interval(secs => COALESCE($4::float8, 0)),
        last_error = COALESCE($5, last_error)
    WHERE id = ANY($1::bigint[]) AND claim_token = $2::uuid AND status = 'pending'
    RETURNING id
""".encode()
"""Give rows back unsent, the attempt refunded: due again in $4 seconds (NULL: at once)."""

STATEMENTS = (MARK_SENT, MARK_FAILED, RELEASE)


class RecordError(Exception):
    """The database refused to record an outcome."""


@dataclass
class Tally:
    """What a run's workers did, added up under a lock."""

    sent: int = 0
    messages: int = 0
    failed: int = 0
    retrying: int = 0
    unconfirmed: int = 0
    released: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for key, value in counts.items():
                setattr(self, key, getattr(self, key) + value)


class Recorder:
    """Writes outcomes on a connection of its own; see the module docstring."""

    def __init__(self, engine: Engine, tally: Tally, now: datetime | None) -> None:
        self.tally = tally
        self.now = now.isoformat().encode() if now is not None else None
        self.statements = 0
        try:
            self._raw = engine.raw_connection()
        except Exception as exc:
            raise DatabaseUnavailable("cannot connect to record delivery outcomes") from exc
        self._pg: pq.abc.PGconn = self._raw.driver_connection.pgconn  # type: ignore[union-attr]
        self._setup()
        self._names = {sql: self._prepare(n, sql) for n, sql in enumerate(STATEMENTS)}
        self._pg.enter_pipeline_mode()
        self._waiting: deque[_Pending] = deque()

    def sent(self, claim: Claim, provider_id: str | None, warning: str | None = None) -> None:
        def done(rows: list[bytes | None]) -> None:
            if len(rows) < len(claim.ids):
                log.warning(
                    "notification %d: its lease ran out while sending; it may go twice",
                    claim.first,
                )

        self.tally.add(sent=len(claim.ids), messages=1, unconfirmed=provider_id is None)
        self._write(MARK_SENT, claim, [_text(provider_id), _text(warning)], done)

    def failed(self, claim: Claim, error: str, *, permanent: bool, max_attempts: int) -> None:
        def done(rows: list[bytes | None]) -> None:
            retrying = sum(1 for r in rows if r == b"pending")
            self.tally.add(failed=len(rows), retrying=retrying)
            log.warning(
                "notification %d: attempt failed%s",
                claim.first,
                "; will retry" if retrying else "; giving up",
            )

        params = [b"t" if permanent else b"f", str(max_attempts).encode(), _text(scrub(error))]
        self._write(MARK_FAILED, claim, params, done)

    def release(self, claim: Claim, delay: float | None, error: str | None) -> None:
        """Give the rows back unsent, their attempt refunded; due again in ``delay`` s."""

        def done(rows: list[bytes | None]) -> None:
            self.tally.add(released=len(rows))

        wait = repr(float(delay)) if delay is not None else None
        self._write(RELEASE, claim, [_text(wait), _text(error and scrub(error))], done)

    def close(self) -> None:
        """Wait for every outstanding result, then close the connection."""
        try:
            self._read(block=True)
        finally:
            self._raw.close()

    # ------------------------------------------------------------ libpq
    def _setup(self) -> None:
        # Each outcome is a commit of its own; waiting for its WAL flush would cost a
        # disk sync per message. The server still commits what it has received if this
        # process dies; only a crash of PostgreSQL itself could forget the last fraction
        # of a second of outcomes (docs/notifications.md, the crash window).
        result = self._pg.exec_(b"SET synchronous_commit = off")
        if result.status != pq.ExecStatus.COMMAND_OK:
            message = result.error_message.decode(errors="replace").strip()
            raise RecordError(f"setting up the delivery connection failed: {message}")

    def _prepare(self, n: int, sql: bytes) -> bytes:
        name = f"gstjobs_record_{n}".encode()
        result = self._pg.prepare(name, sql)  # before pipeline mode: synchronous
        if result.status != pq.ExecStatus.COMMAND_OK:
            message = result.error_message.decode(errors="replace").strip()
            raise RecordError(f"preparing a delivery statement failed: {message}")
        return name

    def _write(
        self,
        sql: bytes,
        claim: Claim,
        extra: list[bytes | None],
        done: Callable[[list[bytes | None]], None],
    ) -> None:
        ids = ("{" + ",".join(str(i) for i in claim.ids) + "}").encode()
        params: list[bytes | None] = [ids, str(claim.token).encode(), self.now, *extra]
        pg = self._pg
        try:
            pg.send_query_prepared(self._names[sql], params)
            pg.pipeline_sync()  # a transaction of its own, committed whatever happens here
            while pg.flush() == 1:  # non-blocking connection: wait until it is all out
                select.select([], [pg.socket], [], 10)
        except Exception as exc:
            raise DatabaseUnavailable("lost the database connection recording outcomes") from exc
        self.statements += 1
        self._waiting.append(_Pending(done))
        self._read(block=False)

    def _read(self, *, block: bool) -> None:
        """Take the results that have arrived (all of them, waiting, when ``block``)."""
        pg = self._pg
        try:
            while self._waiting:
                pg.consume_input()
                if pg.is_busy():
                    if not block:
                        return
                    select.select([pg.socket], [], [], 10)
                    continue
                result = pg.get_result()
                if result is None:
                    continue  # the end of one statement's results
                pending = self._waiting[0]
                if result.status == pq.ExecStatus.PIPELINE_SYNC:
                    self._waiting.popleft()
                    pending.finish()
                elif result.status == pq.ExecStatus.TUPLES_OK:
                    pending.rows += [result.get_value(i, 0) for i in range(result.ntuples)]
                else:
                    pending.error = result.error_message.decode(errors="replace").strip()
        except RecordError:
            raise
        except Exception as exc:
            raise DatabaseUnavailable("lost the database connection recording outcomes") from exc


@dataclass
class _Pending:
    """A written statement whose result has not been read yet."""

    done: Callable[[list[bytes | None]], None]
    rows: list[bytes | None] = field(default_factory=list)
    error: str | None = None

    def finish(self) -> None:
        if self.error is not None:
            raise RecordError(f"recording a delivery outcome failed: {self.error}")
        self.done(self.rows)


def _text(value: str | None) -> bytes | None:
    return value.encode() if value is not None else None
