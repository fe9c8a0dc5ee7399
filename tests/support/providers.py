"""Scripted providers on loopback, for the delivery tests.

``scripted_smtp``: an aiosmtpd server whose replies to RCPT and DATA follow a script
(``"450 …"``, ``"451 …"``, ``"550 …"``; anything not scripted is accepted), with
optional AUTH that rejects every login (535).

``raw_smtp``: a hand-written SMTP server for what aiosmtpd will not do: greet with
421, or answer one byte a second (a drip feed).

``cloud_api``: an HTTP/1.1 server with keep-alive playing the WhatsApp Cloud API's
messages endpoint. Each request takes the next step of its script:

- ``("ok",)``: 200 with ``messages[0].id`` (``wamid.TEST0001``, …);
- ``("no-id",)``: 200 with ``messages: []``;
- ``(status, body_dict)`` or ``(status, body_dict, headers)``: that answer;
- ``("redirect", url)``: 302 to ``url``;
- ``("drip", seconds)``: 200 and its headers at once, then the body a byte every
  ``seconds``;
- ``("stall", seconds)``: nothing for ``seconds``, then 200.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from tests.support.servers import Received, free_port


# ---------------------------------------------------------------- SMTP (aiosmtpd)
@dataclass
class ScriptedSmtp:
    port: int = field(default_factory=free_port)
    rcpt: list[str] = field(default_factory=list)
    """Replies to the next RCPT commands (then 250)."""
    data: list[str] = field(default_factory=list)
    """Replies to the next message bodies (then 250)."""
    messages: list[Received] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.port),
            "SMTP_SECURITY": "none",
            "SMTP_FROM": "Reminders <reminders@practice.example>",
            "SMTP_TIMEOUT": "2",
            "GSTJOBS_SMTP_CONNECTIONS": "1",  # scripted replies then come in a known order
            **extra,
        }

    def ids(self) -> list[str]:
        with self.lock:
            return [str(m.message["Message-ID"]) for m in self.messages]


class _ScriptHandler:
    def __init__(self, server: ScriptedSmtp) -> None:
        self.s = server

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        with self.s.lock:
            self.s.commands.append(f"RCPT {address}")
            reply = self.s.rcpt.pop(0) if self.s.rcpt else "250 OK"
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import email
        import email.policy

        with self.s.lock:
            reply = self.s.data.pop(0) if self.s.data else "250 Message accepted"
            if reply.startswith("250"):
                message = email.message_from_bytes(envelope.content, policy=email.policy.default)
                self.s.messages.append(
                    Received(envelope.mail_from, list(envelope.rcpt_tos), message)  # type: ignore[arg-type]
                )
        return reply


def _reject(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    return AuthResult(success=False, handled=False)


@contextmanager
def scripted_smtp(*, auth: bool = False) -> Iterator[ScriptedSmtp]:
    fake = ScriptedSmtp()
    kwargs: dict[str, Any] = {}
    if auth:
        kwargs = {"authenticator": _reject, "auth_require_tls": False}
    controller = Controller(_ScriptHandler(fake), hostname="127.0.0.1", port=fake.port, **kwargs)
    controller.start()
    try:
        yield fake
    finally:
        controller.stop()


# ---------------------------------------------------------------- SMTP (by hand)
@contextmanager
def raw_smtp(mode: str, delay: float = 1.0) -> Iterator[int]:
    """A server on a free port: ``greet-421`` (refuses at once) or ``drip`` (greets one
    byte every ``delay`` seconds). Yields the port."""
    port = free_port()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            sock: socket.socket = self.request
            try:
                if mode == "greet-421":
                    sock.sendall(b"421 4.3.2 Service shutting down\r\n")
                    return
                for byte in b"220 slow.example ESMTP\r\n":
                    sock.sendall(bytes([byte]))
                    time.sleep(delay)
            except OSError:
                return

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True

    server = Server(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------- WhatsApp Cloud API
@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    connection: int
    """Which TCP connection carried it (keep-alive makes several share one)."""


@dataclass
class CloudApi:
    script: list[tuple[Any, ...]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _count: int = 0

    def env(
        self, token: str = "EAAG-secret-token-123", timeout: int = 2, connections: int = 1
    ) -> dict[str, str]:
        """One connection unless asked: scripted answers then come in a known order."""
        return {
            "WHATSAPP_API_URL": f"http://127.0.0.1:{self.port}/v21.0",
            "WHATSAPP_PHONE_NUMBER_ID": "1098765432",
            "WHATSAPP_ACCESS_TOKEN": token,
            "WHATSAPP_TIMEOUT": str(timeout),
            "GSTJOBS_WHATSAPP_CONNECTIONS": str(connections),
        }

    def step(self, request: Request) -> tuple[tuple[Any, ...], int]:
        with self.lock:
            self.requests.append(request)
            self._count += 1
            return (self.script.pop(0) if self.script else ("ok",)), self._count


def meta_error(code: int, message: str, details: str | None = None) -> dict[str, Any]:
    """The Graph API's error body (facebook/openapi: error.code, error.error_data.details)."""
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    error["fbtrace_id"] = "AbCdEf123"
    return {"error": error}


@contextmanager
def cloud_api() -> Iterator[CloudApi]:
    fake = CloudApi()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive
        disable_nagle_algorithm = True  # headers and body are two writes

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            request = Request(self.path, dict(self.headers.items()), body, id(self.connection))
            step, n = fake.step(request)
            try:
                self._answer(step, n, body)
            except OSError:
                self.close_connection = True  # the client gave up

        def _answer(self, step: tuple[Any, ...], n: int, body: dict[str, Any]) -> None:
            kind = step[0]
            if kind == "stall":
                time.sleep(float(step[1]))
                kind = "ok"
            if kind == "redirect":
                self._send(302, b"", {"Location": str(step[1])})
                return
            if kind in ("ok", "no-id", "drip"):
                to = body.get("to", "")
                messages = [] if kind == "no-id" else [{"id": f"wamid.TEST{n:04d}"}]
                answer = {
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": to, "wa_id": to}],
                    "messages": messages,
                }
                data = json.dumps(answer).encode()
                if kind == "drip":
                    self._send(200, None, {"Content-Length": str(len(data))})
                    for byte in data:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(float(step[1]))
                    return
                self._send(200, data, {})
                return
            headers = dict(step[2]) if len(step) > 2 else {}
            self._send(int(kind), json.dumps(step[1]).encode(), headers)

        def _send(self, status: int, data: bytes | None, headers: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            if data is not None:
                self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            if data:
                self.wfile.write(data)

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
