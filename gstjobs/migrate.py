"""Numbered plain-SQL migrations from ``gstjobs/sql``.

Each file is applied and recorded in one transaction; a session advisory lock
serialises upgrades, so two hosts running ``gstjobs db upgrade`` at once are safe
(the second waits, then finds nothing pending).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

from sqlalchemy import Connection, Engine, text

from gstjobs.core import SILENT, Progress
from gstjobs.errors import ConfigError, GstjobsError, first_line

log = logging.getLogger(__name__)

LOCK_SQL = text("SELECT pg_advisory_lock(hashtext('gstjobs'), hashtext('migrate'))")
UNLOCK_SQL = text("SELECT pg_advisory_unlock(hashtext('gstjobs'), hashtext('migrate'))")
LEDGER_SQL = text(
    """
    CREATE TABLE IF NOT EXISTS gstjobs_migrations (
        version    text PRIMARY KEY,
        name       text NOT NULL,
        checksum   text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
    )
    """
)
APPLIED_SQL = text("SELECT version, checksum, applied_at FROM gstjobs_migrations ORDER BY version")
RECORD_SQL = text(
    "INSERT INTO gstjobs_migrations (version, name, checksum) VALUES (:version, :name, :checksum)"
)


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class MigrationState:
    migration: Migration
    applied_at: datetime | None
    changed: bool
    """Applied, but the file differs from what was applied."""


def available() -> list[Migration]:
    found = []
    for entry in resources.files("gstjobs").joinpath("sql").iterdir():
        if entry.name.endswith(".sql"):
            version, _, rest = entry.name.partition("_")
            found.append(Migration(version, rest.removesuffix(".sql"), entry.read_text("utf-8")))
    return sorted(found, key=lambda m: m.version)


def state(conn: Connection) -> list[MigrationState]:
    exists = conn.execute(text("SELECT to_regclass('gstjobs_migrations') IS NOT NULL")).scalar()
    applied = {r.version: r for r in conn.execute(APPLIED_SQL)} if exists else {}
    return [
        MigrationState(
            m,
            applied[m.version].applied_at if m.version in applied else None,
            m.version in applied and applied[m.version].checksum != m.checksum,
        )
        for m in available()
    ]


def upgrade(engine: Engine, progress: Progress = SILENT) -> list[Migration]:
    """Apply what is pending; return what this call applied."""
    applied: list[Migration] = []
    with engine.connect() as lock_conn:
        lock_conn = lock_conn.execution_options(isolation_level="AUTOCOMMIT")
        lock_conn.execute(LOCK_SQL)
        try:
            lock_conn.execute(LEDGER_SQL)
            for st in state(lock_conn):
                if st.applied_at is not None:
                    continue
                progress.step(f"migrating: {st.migration.version}_{st.migration.name}")
                _apply(engine, st.migration)
                applied.append(st.migration)
        finally:
            lock_conn.execute(UNLOCK_SQL)
    return applied


def _tell(notice: Any) -> None:
    message = getattr(notice, "message_primary", None) or ""
    if message.startswith("gstjobs: "):
        log.warning("%s", message.removeprefix("gstjobs: "))


def _apply(engine: Engine, migration: Migration) -> None:
    try:
        with engine.begin() as conn:
            # Plain multi-statement SQL goes through the driver without parameters,
            # so a '%' in a migration is never read as a placeholder.
            driver = conn.connection.driver_connection
            assert driver is not None
            # What a migration says to the operator (RAISE NOTICE 'gstjobs: …', e.g. a
            # check left out for legacy rows, 015) reaches stderr as a warning.
            driver.add_notice_handler(_tell)
            try:
                driver.execute(migration.sql.encode())
            finally:
                driver.remove_notice_handler(_tell)
            conn.execute(
                RECORD_SQL,
                {
                    "version": migration.version,
                    "name": migration.name,
                    "checksum": migration.checksum,
                },
            )
    except Exception as exc:
        raise GstjobsError(
            f"migration {migration.version}_{migration.name}.sql failed and was rolled back",
            details=first_line(exc),
        ) from exc


def pending(conn: Connection) -> list[Migration]:
    return [s.migration for s in state(conn) if s.applied_at is None]


def require_current(conn: Connection) -> None:
    """ConfigError unless every shipped migration is applied."""
    if not conn.execute(text("SELECT to_regclass('gstjobs_migrations') IS NOT NULL")).scalar():
        raise ConfigError("the database has no gstjobs schema; run `gstjobs db upgrade` first.")
    missing = [m.version for m in pending(conn)]
    if missing:
        raise ConfigError(
            f"{len(missing)} migration(s) pending ({', '.join(missing)}); "
            "run `gstjobs db upgrade` first."
        )
