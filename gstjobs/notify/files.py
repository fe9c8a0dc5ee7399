"""The file channel: what delivery writes when no provider is configured.

Email goes here when SMTP_HOST is not set, WhatsApp when the WHATSAPP_* settings are
not, and ``console`` rows always. Nothing of a message is ever printed (names and
addresses must stay out of logs and cron mail): each message is a file, and only its
id and file name are logged. Every database has its own folder under the outbox
directory (``GSTJOBS_OUTBOX_DIR``, else ``<GSTJOBS_DATA_DIR>/outbox``), named after
the database and a hash of the server it lives on, so a second database can never
overwrite the first's messages; within it a file is named after its notification id
(``notification-<id>.eml`` or ``.json``; a digest ``digest-<first id>-<count>.eml``),
which no other message of that database can share. Folders are 0700, files 0600:
they hold clients' details. A file is written under a temporary name and renamed,
so a resend after a crash replaces it: this channel delivers exactly once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from gstjobs.config import Settings
from gstjobs.notify.classify import DeliveryError, Kind
from gstjobs.notify.message import Prepared, scrub

log = logging.getLogger(__name__)

IDENTITY = text(
    """
    SELECT current_database() AS name, d.oid
    FROM pg_database d WHERE d.datname = current_database()
    """
)
CLUSTER = text("SELECT system_identifier FROM pg_control_system()")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def outbox_root(settings: Settings) -> Path:
    return settings.outbox_dir or settings.data_dir / "outbox"


def database_folder(conn: Connection, settings: Settings) -> Path:
    """This database's folder: ``<outbox root>/<database name>-<hash of server and oid>``."""
    row = conn.execute(IDENTITY).one()
    try:
        cluster = str(conn.execute(CLUSTER).scalar_one())
    except DBAPIError:  # pg_control_system() revoked: name the server by its address
        conn.rollback()
        url = conn.engine.url
        cluster = f"{url.host}:{url.port}:{url.query.get('host', '')}"
    digest = hashlib.sha256(f"{cluster}:{row.oid}".encode()).hexdigest()[:12]
    return outbox_root(settings) / f"{_UNSAFE.sub('_', row.name)}-{digest}"


class FileTransport:
    """Writes each message as a private file in the database's folder."""

    name = "file"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._ready = False

    def send(self, message: Prepared, deadline: float) -> str | None:
        path = self.folder / message.file_name
        tmp = self.folder / f".{message.file_name}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            if not self._ready:
                self._prepare()
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(message.data)
            os.replace(tmp, path)
        except OSError as exc:
            # A full disk or a folder we may not write to: no message can be written.
            raise DeliveryError(
                scrub(f"cannot write {path}: {exc.strerror or exc}"), Kind.UNUSABLE
            ) from exc
        log.info("notification %d written to %s", message.claim.first, path)
        return str(path)

    def close(self) -> None:
        return None

    def _prepare(self) -> None:
        root = self.folder.parent
        if not root.exists():
            root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.folder.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self.folder, 0o700)  # mkdir's mode is cut by the umask; this is not
        self._ready = True
