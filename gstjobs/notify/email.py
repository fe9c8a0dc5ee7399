"""Email over SMTP (stdlib smtplib): one kept-alive connection per worker.

Security is ``none`` (plain, for a local relay), ``starttls`` (upgrade on port 587)
or ``ssl`` (implicit TLS on port 465); certificates are verified with the system
trust store. The message is built beforehand (``mime``); a worker only runs the
transaction (MAIL, RCPT, DATA) so it knows which command a reply answered, and
``classify.smtp_kind`` turns the reply code into what it means. Every send is
bounded as a whole by its deadline (``watchdog``), the connection is reused for the
next message, and a connection the server dropped while idle is reopened once.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
from contextlib import suppress
from email.utils import parseaddr

from gstjobs.config import SmtpSettings
from gstjobs.notify.classify import SMTP_RATE_LIMIT_PAUSE, DeliveryError, Kind, smtp_kind
from gstjobs.notify.message import Prepared, scrub
from gstjobs.notify.watchdog import Guard, Watchdog

log = logging.getLogger(__name__)


class SmtpTransport:
    """One SMTP connection, opened on first use and kept for the run."""

    name = "smtp"

    def __init__(
        self, settings: SmtpSettings, watchdog: Watchdog, tls: ssl.SSLContext | None
    ) -> None:
        self.settings = settings
        self.watchdog = watchdog
        self.tls = tls
        self.sender = parseaddr(settings.sender)[1] or settings.sender
        self._conn: smtplib.SMTP | None = None

    def send(self, message: Prepared, deadline: float) -> str | None:
        with self.watchdog.guard(deadline, self._socket) as guard:
            try:
                self._transaction(message, guard)
            except DeliveryError:
                raise
            except (smtplib.SMTPException, OSError) as exc:
                self._drop()
                if guard.expired or isinstance(exc, TimeoutError):  # whichever fired first
                    raise DeliveryError(
                        f"SMTP server {self._where()} did not finish within "
                        f"{self.settings.timeout:g}s; the message may have been delivered",
                        Kind.TRANSIENT,
                        timed_out=True,
                    ) from exc
                raise DeliveryError(self._describe("connection lost", exc)) from exc
        log.info("notification %d handed to the SMTP server", message.claim.first)
        return message.message_id

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (smtplib.SMTPException, OSError):
                self._conn.close()
            self._conn = None

    # ------------------------------------------------------------ the transaction
    def _transaction(self, message: Prepared, guard: Guard) -> None:
        reused = self._conn is not None
        conn = self._connection(guard)
        options = [f"size={len(message.data)}"] if conn.has_extn("size") else []
        try:
            code, reply = conn.mail(self.sender, options)
        except smtplib.SMTPServerDisconnected:
            if not reused:
                raise
            # The server closed the idle connection: open a fresh one, once.
            self._drop()
            conn = self._connection(guard)
            code, reply = conn.mail(self.sender, options)
        self._check(conn, "mail", code, reply, (250,))
        code, reply = conn.rcpt(message.recipient)
        self._check(conn, "rcpt", code, reply, (250, 251))
        answer: bytes | str
        try:
            code, answer = conn.data(message.data)
        except smtplib.SMTPDataError as exc:  # DATA itself refused (no 354)
            code, answer = exc.smtp_code, exc.smtp_error
        self._check(conn, "data", code, answer, (250,))

    def _check(
        self, conn: smtplib.SMTP, stage: str, code: int, reply: bytes | str, ok: tuple[int, ...]
    ) -> None:
        if code in ok:
            return
        kind = smtp_kind(code, stage)
        if code == 421 or code == -1:
            self._drop()
        else:
            try:
                conn.rset()  # end the failed transaction; the connection stays usable
            except (smtplib.SMTPException, OSError):
                self._drop()
        text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
        what = {"mail": "MAIL FROM", "rcpt": "RCPT TO", "data": "DATA"}[stage]
        raise DeliveryError(
            self._scrub(f"SMTP server {self._where()} answered {what} with {code} {text}"),
            kind,
            retry_after=SMTP_RATE_LIMIT_PAUSE if kind is Kind.RATE_LIMITED else None,
        )

    def _connection(self, guard: Guard) -> smtplib.SMTP:
        if self._conn is not None:
            return self._conn
        s = self.settings
        timeout = max(min(s.timeout, guard.remaining()), 0.1)
        conn: smtplib.SMTP
        if s.security == "ssl":
            assert self.tls is not None
            conn = smtplib.SMTP_SSL(timeout=timeout, context=self.tls)
            # smtplib takes the name to verify (and send as SNI) from the constructor
            # only; connect(host) later leaves it empty, and every implicit-TLS
            # connection failed with "check_hostname requires server_hostname".
            conn._host = s.host  # type: ignore[attr-defined]
        else:
            conn = smtplib.SMTP(timeout=timeout)
        self._conn = conn  # before connecting, so that the guard can cut a slow greeting
        try:
            code, reply = conn.connect(s.host, s.port)
            if code != 220:
                raise smtplib.SMTPConnectError(code, reply)
            if conn.sock is not None:
                conn.sock.settimeout(s.timeout)  # per read; the guard bounds the whole send
            code, reply = conn.ehlo()
            if code != 250:
                raise smtplib.SMTPHeloError(code, reply)
            if s.security == "starttls":
                assert self.tls is not None
                conn.starttls(context=self.tls)
                conn.ehlo()
            if s.username and s.password:
                conn.login(s.username, s.password)
        except (smtplib.SMTPException, OSError, ValueError) as exc:
            self._drop()
            slow = guard.expired or isinstance(exc, TimeoutError)
            reason = "did not answer in time" if slow else None
            raise DeliveryError(
                self._describe(reason or "unusable", exc, stage="connect"), Kind.UNUSABLE
            ) from exc
        return conn

    def _socket(self) -> socket.socket | None:
        return self._conn.sock if self._conn is not None else None

    def _drop(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with suppress(OSError):
                conn.close()

    def _where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def _describe(self, what: str, exc: BaseException, *, stage: str = "") -> str:
        if isinstance(exc, smtplib.SMTPResponseException):
            raw = exc.smtp_error
            detail = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
            text = f"{type(exc).__name__} {exc.smtp_code} {detail}"
        else:
            text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return self._scrub(f"SMTP server {self._where()} {what}: {text}")

    def _scrub(self, text: str) -> str:
        return scrub(text, (self.settings.password, self.settings.username))
