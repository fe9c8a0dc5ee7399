"""WhatsApp through the WhatsApp Business Cloud API (stdlib http.client).

``POST {api_url}/{phone_number_id}/messages`` with a Bearer token and a ``template``
message: business-initiated messages must use templates Meta has approved, so each
gstjobs template maps to an approved WhatsApp template of the same name (language
TEMPLATE_LANGUAGE) whose body placeholders are filled from
``templates.whatsapp_parameters``. Only users who opted in and have a phone number
receive WhatsApp.

The answer is read as Meta's API documents it (facebook/openapi,
business-messaging-api: ``messages[0].id`` on success; ``error.code``,
``error.error_data.details`` on failure) and classified by ``classify.whatsapp_kind``.
A 2xx whose body carries no message id (or cannot be read before the deadline) was
accepted: it is recorded as sent with the id unknown, never resent. The client keeps
its connection alive between messages, follows no redirect (a 3xx would carry the
bearer token to another host; it is a failure naming the status), and bounds each
send as a whole (``watchdog``). Error texts never contain the token or the number.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import ssl
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from gstjobs.config import WhatsAppSettings
from gstjobs.notify.classify import (
    WHATSAPP_RATE_LIMIT_PAUSE,
    DeliveryError,
    Kind,
    retry_after,
    whatsapp_kind,
)
from gstjobs.notify.message import Prepared, scrub
from gstjobs.notify.watchdog import Guard, Watchdog

log = logging.getLogger(__name__)

TEMPLATE_LANGUAGE = "en"


def request_body(template: str, phone: str, values: list[str]) -> dict[str, Any]:
    """The Cloud API's template message for ``phone`` with body ``values``."""
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": phone.lstrip("+"),
        "type": "template",
        "template": {
            "name": template,
            "language": {"code": TEMPLATE_LANGUAGE},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": v} for v in values]}
            ],
        },
    }


class WhatsAppTransport:
    """One kept-alive HTTP(S) connection to the Cloud API."""

    name = "whatsapp"

    def __init__(
        self, settings: WhatsAppSettings, watchdog: Watchdog, tls: ssl.SSLContext | None
    ) -> None:
        self.settings = settings
        self.watchdog = watchdog
        self.tls = tls
        url = urlsplit(settings.api_url)
        self.https = url.scheme == "https"
        self.host = url.hostname or ""
        self.port = url.port or (443 if self.https else 80)
        self.path = f"{url.path.rstrip('/')}/{settings.phone_number_id}/messages"
        self._conn: http.client.HTTPConnection | None = None

    def send(self, message: Prepared, deadline: float) -> str | None:
        secrets = (self.settings.access_token, message.recipient, message.recipient.lstrip("+"))
        with self.watchdog.guard(deadline, self._socket) as guard:
            try:
                status, headers, body = self._post(message.data, guard)
            except DeliveryError:
                raise
            except (http.client.HTTPException, OSError) as exc:
                self._drop()
                if guard.expired or isinstance(exc, TimeoutError):  # whichever fired first
                    raise DeliveryError(
                        f"WhatsApp API did not answer within {self.settings.timeout:g}s",
                        Kind.TRANSIENT,
                        timed_out=True,
                    ) from exc
                text = f"WhatsApp API connection lost: {type(exc).__name__}: {exc}"
                raise DeliveryError(scrub(text, secrets)) from exc
            if 200 <= status < 300:
                return self._message_id(message, status, body, guard)
        raise self._failure(status, headers, body, secrets)

    def close(self) -> None:
        self._drop()

    # ------------------------------------------------------------ HTTP
    def _post(self, data: bytes, guard: Guard) -> tuple[int, http.client.HTTPMessage, bytes]:
        conn = self._connection(guard)
        headers = {
            "Authorization": f"Bearer {self.settings.access_token}",
            "Content-Type": "application/json",
        }
        try:
            conn.request("POST", self.path, body=data, headers=headers)
        except (http.client.HTTPException, OSError):
            # A kept-alive connection the server closed while idle: reopen once.
            self._drop()
            conn = self._connection(guard)
            conn.request("POST", self.path, body=data, headers=headers)
        response = conn.getresponse()
        status = response.status
        try:
            body = response.read()
        except (http.client.HTTPException, OSError):
            if not 200 <= status < 300:
                raise
            body = b""  # accepted, but the body never arrived: no message id
        if response.will_close or guard.expired:
            self._drop()
        return status, response.headers, body

    def _connection(self, guard: Guard) -> http.client.HTTPConnection:
        if self._conn is not None:
            return self._conn
        timeout = max(min(self.settings.timeout, guard.remaining()), 0.1)
        conn: http.client.HTTPConnection
        if self.https:
            conn = http.client.HTTPSConnection(
                self.host, self.port, timeout=timeout, context=self.tls
            )
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.connect()
        except OSError as exc:
            conn.close()
            slow = guard.expired or isinstance(exc, TimeoutError)
            what = "did not answer in time" if slow else f"{type(exc).__name__}: {exc}"
            raise DeliveryError(
                scrub(f"WhatsApp API {self.host}:{self.port} unreachable: {what}"), Kind.UNUSABLE
            ) from exc
        if conn.sock is not None:
            conn.sock.settimeout(self.settings.timeout)  # per read; the guard bounds the send
        self._conn = conn
        return conn

    def _socket(self) -> socket.socket | None:
        conn = self._conn
        return conn.sock if conn is not None else None

    def _drop(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()

    # ------------------------------------------------------------ answers
    def _message_id(self, message: Prepared, status: int, body: bytes, guard: Guard) -> str | None:
        try:
            wamid = json.loads(body)["messages"][0]["id"]
        except (ValueError, KeyError, IndexError, TypeError):
            wamid = None
        if not isinstance(wamid, str) or not wamid:
            log.warning(
                "notification %d: WhatsApp API answered HTTP %d without a message id%s; "
                "recorded as sent, not resent",
                message.claim.first,
                status,
                " before the deadline" if guard.expired else "",
            )
            return None
        log.info("notification %d accepted by the WhatsApp API", message.claim.first)
        return wamid

    def _failure(
        self, status: int, headers: http.client.HTTPMessage, body: bytes, secrets: tuple[str, ...]
    ) -> DeliveryError:
        code: int | None = None
        detail = ""
        try:
            error = json.loads(body)["error"]
            code = int(error["code"]) if error.get("code") is not None else None
            data = error.get("error_data") or {}
            detail = (data.get("details") if isinstance(data, dict) else None) or error.get(
                "message", ""
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            detail = http.client.responses.get(status, "")
        kind = whatsapp_kind(status, code)
        text = f"HTTP {status}" + (f": (#{code}) {detail}" if code is not None else f": {detail}")
        if 300 <= status < 400:
            text += "; gstjobs follows no redirect: check WHATSAPP_API_URL"
        pause = None
        if kind is Kind.RATE_LIMITED:
            now = _date(headers.get("Date"))
            pause = retry_after(headers.get("Retry-After"), now) or WHATSAPP_RATE_LIMIT_PAUSE
        return DeliveryError(scrub(text, secrets), kind, retry_after=pause)


def _date(value: str | None) -> datetime:
    """The server's clock from its Date header (for an HTTP-date Retry-After)."""
    try:
        moment = parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        moment = None
    return moment or datetime.now(UTC)
