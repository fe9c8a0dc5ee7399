"""Shared fixtures: a real PostgreSQL, a migrated template, a fresh database per test.

The server is ``GSTJOBS_TEST_DATABASE_URL`` (an admin URL, e.g. the machine's
PostgreSQL: postgresql://postgres@127.0.0.1:5432/postgres) or, when that is unset,
the embedded server (pgserver) in a throwaway directory: the fresh-machine path.
Each test gets its own database cloned from a migrated template
(``CREATE DATABASE … TEMPLATE …`` takes milliseconds).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from gstjobs import migrate
from gstjobs.config import Settings, load_settings

SCRUBBED_PREFIXES = ("GSTJOBS_", "SMTP_", "WHATSAPP_")
SCRUBBED = {"DATABASE_URL", "APP_BASE_URL"}
AT_ANY_HOUR = {"GSTJOBS_QUIET_HOURS": "off"}
"""Tests run at any hour, and quiet hours would hold routine messages overnight; the
quiet-hours tests turn them on with a fixed clock."""


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test environment without a developer's gstjobs settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in SCRUBBED and not k.startswith(SCRUBBED_PREFIXES)
    }
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "200"
    env.update(extra or {})
    return env


@pytest.fixture(scope="session")
def admin_url() -> Iterator[URL]:
    raw = os.environ.get("GSTJOBS_TEST_DATABASE_URL", "").strip()
    if raw:
        yield make_url(raw).set(drivername="postgresql+psycopg")
        return
    import pgserver

    pgdata = Path(tempfile.mkdtemp(prefix="gstjobs-pg-"))
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    yield make_url(server.get_uri()).set(drivername="postgresql+psycopg")
    server.cleanup()
    shutil.rmtree(pgdata, ignore_errors=True)


def _admin(url: URL) -> Engine:
    return create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def template_db(admin_url: URL) -> Iterator[str]:
    name = f"gstjobs_tpl_{os.getpid()}"
    admin = _admin(admin_url)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(admin_url.set(database=name), poolclass=NullPool)
    migrate.upgrade(engine)
    engine.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def db_url(admin_url: URL, template_db: str) -> Iterator[URL]:
    """A fresh, migrated database for this test."""
    name = f"gstjobs_t_{uuid.uuid4().hex[:12]}"
    admin = _admin(admin_url)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"'))
    yield admin_url.set(database=name)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def empty_db_url(admin_url: URL) -> Iterator[URL]:
    """A fresh database with no schema at all."""
    name = f"gstjobs_e_{uuid.uuid4().hex[:12]}"
    admin = _admin(admin_url)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield admin_url.set(database=name)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def engine(db_url: URL) -> Iterator[Engine]:
    eng = create_engine(db_url, poolclass=NullPool)
    yield eng
    eng.dispose()


def url_text(url: URL) -> str:
    """A URL for DATABASE_URL: plain postgresql://, password kept."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def settings(db_url: URL, tmp_path: Path) -> Settings:
    """Settings for in-process runs; the console outbox goes to this test's tmp_path."""
    return load_settings(
        clean_env(
            {
                "DATABASE_URL": url_text(db_url),
                "GSTJOBS_DATA_DIR": str(tmp_path / "data"),
                **AT_ANY_HOUR,
            }
        )
    )


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        import json

        return json.loads(self.stdout)


@pytest.fixture
def cli(db_url: URL, tmp_path: Path) -> Any:
    """Run the real ``gstjobs`` command in a subprocess against this test's database."""

    def run(
        *args: str,
        env: Mapping[str, str] | None = None,
        timeout: float = 120,
        database: bool = True,
    ) -> CliResult:
        base = {"GSTJOBS_DATA_DIR": str(tmp_path / "data"), **AT_ANY_HOUR}
        if database:
            base["DATABASE_URL"] = url_text(db_url)
        proc = subprocess.run(
            [sys.executable, "-m", "gstjobs", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=tmp_path,
            env=clean_env({**base, **(env or {})}),
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    return run


AS_OF = datetime(2026, 1, 15, 4, 30, tzinfo=UTC)  # 10:00 IST
