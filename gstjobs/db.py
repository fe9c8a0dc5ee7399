"""Engines and connections: the configured PostgreSQL or the embedded one.

With no ``DATABASE_URL`` the embedded server (the ``pgserver`` package: a real
PostgreSQL) is started in the data directory on first use and left running, so
later runs reuse it. Driver errors met while connecting become
``DatabaseUnavailable`` (exit 69) with the password masked.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.pool import NullPool

from gstjobs.config import Settings
from gstjobs.errors import ConfigError, DatabaseUnavailable, first_line

log = logging.getLogger(__name__)

EMBEDDED_DATABASE = "gstjobs"


@dataclass(frozen=True)
class Database:
    """Where we connect, and how to name it to people (password masked)."""

    url: URL
    label: str
    embedded: bool


def mask(url: URL) -> str:
    """The URL as people may see it: plain ``postgresql://`` and no password."""
    # A password may also ride in the query string (?password=…); drop it there too.
    shown = url.set(drivername="postgresql").difference_update_query(["password", "sslpassword"])
    return shown.render_as_string(hide_password=True)


def resolve(settings: Settings) -> Database:
    if settings.database_url is not None:
        return Database(settings.database_url, mask(settings.database_url), embedded=False)
    return _embedded(settings.data_dir / "pgdata")


def _embedded(pgdata: Path) -> Database:
    # platformdirs (under pgserver) warns whenever XDG_RUNTIME_DIR is unset, as under
    # cron; that is harmless here, and stderr is for what the operator must act on.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    try:
        import pgserver
    except ImportError:
        raise ConfigError(
            "DATABASE_URL is not set and the embedded PostgreSQL is not installed; "
            "set DATABASE_URL or run: pip install 'gstjobs[embedded]'."
        ) from None
    pgdata.mkdir(parents=True, exist_ok=True)
    try:
        server = pgserver.get_server(pgdata, cleanup_mode=None)  # type: ignore[attr-defined]
    except Exception as exc:  # pgserver raises plain exceptions with the server log
        raise DatabaseUnavailable(
            f"the embedded PostgreSQL in {pgdata} did not start; see {pgdata}/log.",
            details=str(exc).splitlines()[-1] if str(exc) else None,
        ) from exc
    admin = make_url(server.get_uri()).set(drivername="postgresql+psycopg")
    url = admin.set(database=EMBEDDED_DATABASE)
    _create_database_if_missing(admin, EMBEDDED_DATABASE)
    return Database(url, f"embedded PostgreSQL in {pgdata} (database {EMBEDDED_DATABASE})", True)


def _create_database_if_missing(admin: URL, name: str) -> None:
    engine = create_engine(admin, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))  # name is our constant
    finally:
        engine.dispose()


def make_engine(db: Database, settings: Settings, *, purpose: str) -> Engine:
    """An engine for one command. ``purpose`` shows in pg_stat_activity.application_name."""
    return create_engine(
        db.url,
        poolclass=NullPool,
        connect_args={
            "connect_timeout": settings.connect_timeout,
            "application_name": f"gstjobs {purpose}"[:63],
        },
    )


@contextmanager
def connect(engine: Engine, label: str, *, autocommit: bool = False) -> Iterator[Connection]:
    """A connection; failure to reach the server is DatabaseUnavailable, not a traceback."""
    try:
        conn = engine.connect()
    except (OperationalError, InterfaceError) as exc:
        raise DatabaseUnavailable(
            f"cannot connect to {label}; check DATABASE_URL and that PostgreSQL is running.",
            details=first_line(exc),
        ) from exc
    try:
        if autocommit:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn
    finally:
        conn.close()


def is_connection_lost(exc: BaseException) -> bool:
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)
