"""Real servers on loopback for the notification tests.

``SmtpServer``: an aiosmtpd SMTP server on 127.0.0.1 that keeps every message it
accepts; it can be stopped and started again on the same port (SMTP down, then up).

``WhatsAppServer``: an HTTP server speaking the WhatsApp Cloud API's messages
endpoint (``POST /{phone_number_id}/messages``), answering from a script of
responses (success with a ``wamid``, an error status with Meta's error JSON, or a
stall longer than the client's timeout) and recording every request.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content())

    @property
    def html(self) -> str:
        part = self.message.get_body(("html",))
        assert part is not None
        return str(part.get_content())


class _Handler:
    def __init__(self, store: list[Received], lock: threading.Lock) -> None:
        self.store = store
        self.lock = lock

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.store.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    port: int = field(default_factory=free_port)
    messages: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(
            _Handler(self.messages, self._lock), hostname="127.0.0.1", port=self.port
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def env(self, sender: str = "reminders@practice.example") -> dict[str, str]:
        return {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.port),
            "SMTP_SECURITY": "none",
            "SMTP_FROM": sender,
            "SMTP_TIMEOUT": "5",
        }

    def to(self, address: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if address in m.rcpt_tos]


@contextmanager
def smtp_server(*, running: bool = True) -> Iterator[SmtpServer]:
    server = SmtpServer()
    if running:
        server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class WhatsAppServer:
    """Scripted answers: ("ok",), (status, error_json) or ("stall", seconds)."""

    script: list[tuple[Any, ...]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    port: int = 0
    _count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_answer(self, request: Request) -> tuple[int, dict[str, Any] | None, float]:
        with self._lock:
            self.requests.append(request)
            self._count += 1
            step = self.script.pop(0) if self.script else ("ok",)
            n = self._count
        if step[0] == "ok":
            to = request.body.get("to", "")
            return (
                200,
                {
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": to, "wa_id": to}],
                    "messages": [{"id": f"wamid.TEST{n:04d}"}],
                },
                0.0,
            )
        if step[0] == "stall":
            return 200, None, float(step[1])
        return int(step[0]), step[1], 0.0

    def env(self, token: str = "EAAG-secret-token-123") -> dict[str, str]:
        return {
            "WHATSAPP_API_URL": f"http://127.0.0.1:{self.port}/v21.0",
            "WHATSAPP_PHONE_NUMBER_ID": "1098765432",
            "WHATSAPP_ACCESS_TOKEN": token,
            "WHATSAPP_TIMEOUT": "1",
        }


def meta_error(code: int, message: str, details: str | None = None) -> dict[str, Any]:
    """The Graph API's error body."""
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbCdEf123",
    }
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return {"error": error}


@contextmanager
def whatsapp_server() -> Iterator[WhatsAppServer]:
    fake = WhatsAppServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            status, answer, stall = fake.next_answer(
                Request(self.path, {k: v for k, v in self.headers.items()}, body)
            )
            if stall:
                time.sleep(stall)
            data = json.dumps(answer or {}).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (timeout)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    fake.port = int(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        httpd.shutdown()
        httpd.server_close()


# ---------------------------------------------------------------- outbox helpers
def notify_settings(db_url: Any, extra: dict[str, str] | None = None) -> Any:
    """Settings for in-process delivery tests, from a clean environment.

    The file channel writes into a fresh temporary directory unless ``extra`` names
    one, never into the developer's data directory.
    """
    import tempfile

    from gstjobs.config import load_settings
    from tests.conftest import AT_ANY_HOUR, clean_env, url_text

    env = {
        **AT_ANY_HOUR,
        "DATABASE_URL": url_text(db_url),
        "GSTJOBS_OUTBOX_DIR": tempfile.mkdtemp(prefix="gstjobs-outbox-"),
        **(extra or {}),
    }
    return load_settings(clean_env(env))


def queue(
    conn: Any,
    tenant_id: Any,
    user_id: Any,
    template: str,
    payload: dict[str, Any],
    *,
    channel: str = "email",
    key: str | None = None,
    urgency: int = 0,
) -> int:
    """Put one row in the outbox, as a job would (``urgency`` 2 passes quiet hours)."""
    from sqlalchemy import text

    return int(
        conn.execute(
            text(
                "INSERT INTO notifications (tenant_id, user_id, channel, template, payload, "
                "dedup_key, urgency) VALUES (:t, :u, :c, :tpl, CAST(:p AS jsonb), :k, :urgency) "
                "RETURNING id"
            ),
            {
                "t": tenant_id,
                "u": user_id,
                "c": channel,
                "tpl": template,
                "p": json.dumps(payload),
                "k": key or f"test:{time.monotonic_ns()}",
                "urgency": urgency,
            },
        ).scalar_one()
    )


def hearing_payload(case_number: str = "GST/APL/2025/0123", **over: Any) -> dict[str, Any]:
    payload = {
        "hearing_id": "00000000-0000-0000-0000-0000000000a1",
        "case_id": "00000000-0000-0000-0000-0000000000c1",
        "case_number": case_number,
        "case_title": "Appeal against demand order",
        "court_name": "GST Appellate Tribunal",
        "court_city": "Ahmedabad",
        "hearing_date": "2026-01-16T05:00:00+00:00",
        "purpose": "Final arguments",
        "roles": ["owner"],
    }
    return payload | over


def rows(conn: Any) -> list[Any]:
    from sqlalchemy import text

    return list(
        conn.execute(
            text(
                "SELECT id, tenant_id, user_id, channel, template, status, attempts, "
                "next_attempt_at, last_error, provider_message_id, sent_at, payload, dedup_key "
                "FROM notifications ORDER BY id"
            )
        )
    )
