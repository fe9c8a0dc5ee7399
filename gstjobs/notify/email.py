"""Email over SMTP (stdlib smtplib): one connection per delivery batch.

Security is ``none`` (plain, for a local relay), ``starttls`` (upgrade on port 587)
or ``ssl`` (implicit TLS on port 465); certificates are verified with the system
trust store. Every message is multipart/alternative (text, then HTML) and carries
a Message-ID derived from the notification id, stable across retries: if a crash
between handing the message to the server and recording it as sent makes us send
it again, the copy has the same Message-ID and mail clients and archives can
recognise it as the same message.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from gstjobs.config import SmtpSettings
from gstjobs.notify.message import DeliveryError, Outgoing, scrub

log = logging.getLogger(__name__)

# Failures that concern this one message; anything else (connection refused, timeout,
# server gone) means the server is unusable for the rest of the batch.
_MESSAGE_ERRORS = (
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPSenderRefused,
    smtplib.SMTPDataError,
    smtplib.SMTPNotSupportedError,
)


def build(message: Outgoing, sender: str) -> EmailMessage:
    """The MIME message for one notification."""
    recipient = message.recipient
    if not recipient.email:
        raise DeliveryError("the recipient has no email address", permanent=True)
    mail = EmailMessage()
    mail["Subject"] = message.rendered.subject
    mail["From"] = sender
    try:
        mail["To"] = Address(display_name=recipient.name, addr_spec=recipient.email)
    except (ValueError, IndexError) as exc:
        raise DeliveryError("the recipient's email address is malformed", permanent=True) from exc
    mail["Date"] = format_datetime(message.envelope.now)
    mail["Message-ID"] = message.message_id
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    mail["X-Gstjobs-Notification"] = str(message.id)
    mail["X-Gstjobs-Template"] = message.template
    mail.set_content(message.rendered.text)
    mail.add_alternative(message.rendered.html, subtype="html")
    return mail


class SmtpChannel:
    """Sends over one SMTP connection, opened on first use and kept for the batch."""

    name = "smtp"

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._conn: smtplib.SMTP | None = None
        self._broken: str | None = None

    def send(self, message: Outgoing) -> str:
        mail = build(message, self.settings.sender)
        conn = self._connection()
        try:
            refused = conn.send_message(mail)
        except _MESSAGE_ERRORS as exc:
            raise DeliveryError(self._describe(exc)) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._drop(self._describe(exc))
            raise DeliveryError(self._broken or "SMTP failure") from exc
        if refused:
            raise DeliveryError("the SMTP server refused the recipient")
        log.info("notification %d handed to the SMTP server", message.id)
        return message.message_id

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (smtplib.SMTPException, OSError):
                self._conn.close()
            self._conn = None

    def _connection(self) -> smtplib.SMTP:
        if self._broken is not None:
            # The server failed earlier in this batch: do not wait out another
            # timeout per message; the rest is retried on the next run.
            raise DeliveryError(self._broken)
        if self._conn is not None:
            return self._conn
        s = self.settings
        try:
            conn: smtplib.SMTP
            if s.security == "ssl":
                conn = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout, context=ssl.create_default_context()
                )
            else:
                conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            conn.ehlo()
            if s.security == "starttls":
                conn.starttls(context=ssl.create_default_context())
                conn.ehlo()
            if s.username and s.password:
                conn.login(s.username, s.password)
        except (smtplib.SMTPException, OSError) as exc:
            self._broken = f"SMTP server {s.host}:{s.port} unusable: {self._describe(exc)}"
            raise DeliveryError(self._broken) from exc
        self._conn = conn
        return conn

    def _drop(self, reason: str) -> None:
        self._broken = f"SMTP server {self.settings.host}:{self.settings.port} failed: {reason}"
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            codes = sorted({str(code) for code, _ in exc.recipients.values()})
            text = f"recipient refused ({', '.join(codes)})"
        elif isinstance(exc, smtplib.SMTPResponseException):
            raw = exc.smtp_error
            detail = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
            text = f"{type(exc).__name__} {exc.smtp_code}: {detail}"
        else:
            text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return scrub(text, (self.settings.password, self.settings.username))
