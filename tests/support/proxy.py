"""A TCP proxy on loopback that the tests control: the database link, made unreliable.

``LinkProxy(target)`` listens on 127.0.0.1 and forwards every connection to the
database server (a TCP address, or the Unix socket of the embedded server).
``freeze()`` stops moving bytes in both directions while keeping the sockets open —
a silent link, as when a NAT mapping or a peer disappears; ``thaw()`` resumes;
``cut()`` closes every connection at once, as a reset would; ``freeze_after(marker)``
freezes as soon as a client's bytes holding ``marker`` have reached the server, before
its reply can come back (a race the tests could not otherwise win every time).
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy.engine import URL


@dataclass
class LinkProxy:
    target_host: str
    target_port: int | None
    """None: ``target_host`` is the directory of a Unix socket (the embedded server)."""
    port: int = 0
    frozen: threading.Event = field(default_factory=threading.Event)
    _listener: socket.socket | None = None
    _links: list[tuple[socket.socket, socket.socket]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _closed: threading.Event = field(default_factory=threading.Event)
    _freeze_after: bytes | None = None

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        self._listener = listener
        self.port = int(listener.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, base: URL) -> URL:
        """``base`` (a database URL) reached through this proxy."""
        query = {k: v for k, v in base.query.items() if k != "host"}
        return base.set(host="127.0.0.1", port=self.port, query=query)

    def freeze(self) -> None:
        self.frozen.set()

    def freeze_after(self, marker: bytes) -> None:
        self._freeze_after = marker

    def thaw(self) -> None:
        self.frozen.clear()

    def cut(self) -> None:
        with self._lock:
            links, self._links = self._links, []
        for a, b in links:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def close(self) -> None:
        self._closed.set()
        if self._listener is not None:
            self._listener.close()
        self.cut()

    def _connect_target(self) -> socket.socket:
        if self.target_port is None:
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(f"{self.target_host}/.s.PGSQL.5432")
        else:
            upstream = socket.create_connection((self.target_host, self.target_port))
        return upstream

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = self._connect_target()
            except OSError:
                client.close()
                continue
            with self._lock:
                self._links.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while not self._closed.is_set():
                if self.frozen.is_set():
                    self._closed.wait(0.05)
                    continue
                ready, _, _ = select.select([a, b], [], [], 0.05)
                for sock in ready:
                    if self.frozen.is_set():
                        break
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
                    if sock is a and self._freeze_after and self._freeze_after in data:
                        self.frozen.set()
        except (OSError, ValueError):
            return
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.close()


@contextlib.contextmanager
def link_proxy(db_url: URL) -> Iterator[LinkProxy]:
    """A proxy in front of the server of ``db_url``."""
    socket_dir = db_url.query.get("host")
    if isinstance(socket_dir, tuple):
        socket_dir = socket_dir[0]
    if socket_dir and str(socket_dir).startswith("/"):
        proxy = LinkProxy(str(socket_dir), None)
    else:
        proxy = LinkProxy(db_url.host or "127.0.0.1", db_url.port or 5432)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.close()
