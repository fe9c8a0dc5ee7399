"""Engines and connections: the configured PostgreSQL or the embedded one.

With no ``DATABASE_URL`` the embedded server (the ``pgserver`` package: a real
PostgreSQL) is started in the data directory on first use and left running, so
later runs reuse it. Driver errors met while connecting become
``DatabaseUnavailable`` (exit 69) with the password masked.

Nothing waits for ever: every connection has a connect timeout and TCP keepalives
with a user timeout (``GSTJOBS_NETWORK_TIMEOUT``), so a silent network link is given
up after that many seconds (a link whose far end still acknowledges trips neither:
the runner bounds its own waits for that, ``guard.within`` and the run's guard); each
session gets the statement and lock timeouts its purpose allows, and no server-side
idle timeout can end a gstjobs session behind its back (a run's lock lives on one;
gstjobs bounds its own sessions instead).
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
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


def _quiet_pgserver() -> None:
    # platformdirs (under pgserver) warns whenever XDG_RUNTIME_DIR is unset, as under
    # cron; that is harmless here, and stderr is for what the operator must act on.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def _embedded(pgdata: Path) -> Database:
    _quiet_pgserver()
    try:
        import pgserver
    except ImportError:
        raise ConfigError(
            "DATABASE_URL is not set and the embedded PostgreSQL is not installed; "
            "set DATABASE_URL, or install it beside gstjobs: pip install 'pgserver>=0.1.4' "
            "(gstjobs is not on a package index; a checkout installs it with .[embedded])."
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


def stop_embedded(pgdata: Path) -> bool:
    """Stop the embedded server in ``pgdata`` if it runs; whether it was running."""
    import os

    _quiet_pgserver()
    try:
        import pgserver
        from pgserver.utils import PostmasterInfo
    except ImportError:
        return False
    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running():
        return False
    # As root, pgserver runs the server as its own system user (see pgserver).
    user = "pgserver" if os.geteuid() == 0 else None
    # A fast shutdown still writes a checkpoint; on a busy disk that can outlast pg_ctl's
    # default 60 s wait, so wait longer, and judge by the server, not by pg_ctl's answer.
    import subprocess

    try:
        pgserver.pg_ctl(  # type: ignore[attr-defined]
            ["-w", "-t", "300", "-m", "fast", "stop"], pgdata=pgdata, user=user
        )
    except subprocess.CalledProcessError as exc:
        if info.is_running():
            detail = (exc.stderr or exc.stdout or "").strip().splitlines()
            raise DatabaseUnavailable(
                f"the embedded server in {pgdata} did not stop"
                + (f" ({detail[-1]})" if detail else "")
                + "; try again, or stop it with pg_ctl -D that directory."
            ) from exc
    handles = pgdata / ".handle_pids.json"
    if handles.exists():
        handles.unlink()  # the processes that used it are gone with it
    return True


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


DEFAULT_STATEMENT_TIMEOUT_S = 300.0
"""A command's statements, unless its caller (a job run) gives its own limit."""
DEFAULT_LOCK_TIMEOUT_S = 30.0

_SESSION_LIMITS = """
    SELECT set_config('statement_timeout', %(statement)s, false),
           set_config('lock_timeout', %(lock)s, false),
           set_config('idle_in_transaction_session_timeout', '0', false)
"""
_NO_IDLE_TIMEOUT = "SELECT set_config('idle_session_timeout', '0', false)"  # PostgreSQL 14+


def make_engine(
    db: Database,
    settings: Settings,
    *,
    purpose: str,
    statement_timeout_s: float = DEFAULT_STATEMENT_TIMEOUT_S,
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
) -> Engine:
    """An engine for one command. ``purpose`` shows in pg_stat_activity.application_name;
    every session it opens gets these statement and lock timeouts."""
    network = settings.network_timeout
    engine = create_engine(
        db.url,
        poolclass=NullPool,
        connect_args={
            "connect_timeout": settings.connect_timeout,
            "application_name": f"gstjobs {purpose}"[:63],
            # A silent link (a dead peer, a dropped NAT mapping) is given up after about
            # ``network`` seconds, whether we are waiting to read or to be acknowledged.
            # libpq ignores these on a Unix-domain socket (the embedded server).
            "keepalives": 1,
            "keepalives_idle": max(1, int(network // 3)),
            "keepalives_interval": max(1, int(network // 9)),
            "keepalives_count": 3,
            "tcp_user_timeout": int(network * 1000),
        },
    )
    limits = {
        "statement": f"{int(statement_timeout_s * 1000)}ms",
        "lock": f"{int(lock_timeout_s * 1000)}ms",
    }

    @event.listens_for(engine, "connect")
    def _limit_session(dbapi_connection: Any, record: Any) -> None:
        with dbapi_connection.cursor() as cur:
            cur.execute(_SESSION_LIMITS, limits)
            if dbapi_connection.info.server_version >= 140000:
                cur.execute(_NO_IDLE_TIMEOUT)
        dbapi_connection.commit()

    return engine


@contextmanager
def connect(engine: Engine, label: str, *, autocommit: bool = False) -> Iterator[Connection]:
    """A connection; failure to reach the server is DatabaseUnavailable, not a traceback."""
    try:
        conn = engine.connect()
    except (OperationalError, InterfaceError) as exc:
        if _BAD_PARAMETER.search(str(exc.orig)):  # libpq refuses the URL before connecting
            raise ConfigError(
                f"DATABASE_URL has a connection parameter libpq refuses: {first_line(exc)}; "
                "see the PostgreSQL docs on connection parameters."
            ) from exc
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


_BAD_PARAMETER = re.compile(r"invalid (\w+ value|connection option|integer value)")


def is_connection_lost(exc: BaseException) -> bool:
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


_RELATION = re.compile(r'relation "([^"]+)"')


def describe(exc: BaseException) -> str:
    """A driver error as one line that names what happened: a lock wait or statement
    over its limit, a lost connection, or the server's first line."""
    orig = getattr(exc, "orig", None) or exc
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate == "55P03":  # lock_not_available: lock_timeout
        diag = getattr(orig, "diag", None)
        where = _RELATION.search(getattr(diag, "context", None) or str(orig))
        held = f" on {where.group(1)}" if where else ""
        return (
            f"gave up waiting for a lock{held} held by another session (lock_timeout); "
            "see pg_locks and pg_stat_activity for the blocker"
        )
    if sqlstate == "57014" and "statement timeout" in str(orig):
        return "a statement ran longer than the run's statement_timeout and was cancelled"
    if sqlstate == "40P01":
        return (
            "deadlock with another session; the server rolled this transaction back "
            "(nothing of it was written): run it again"
        )
    if is_link_error(exc):
        return f"lost the connection to the database: {first_line(exc)}"
    return first_line(exc)


def is_link_error(exc: BaseException) -> bool:
    """The database is out of reach: the connection broke, could not be made, the server
    is shutting down or turned the connection away. A deadlock, a cancel or a
    serialization failure is also an OperationalError to the driver, but the server
    answered: those are not."""
    if is_connection_lost(exc):
        return True
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None)
    # 08: connection exceptions; 57P: the server shutting down or not yet accepting;
    # 53300: too many connections (the server turned this one away).
    return sqlstate is None or sqlstate.startswith(("08", "57P")) or sqlstate == "53300"
