"""The fault suite's world: one migrated database (for the session) with the demo practices
in it, files to point options at, the real ``gstjobs`` command in a subprocess, and the
Hypothesis budgets.

Two budgets: the small one runs in ``make test`` (a few dozen examples per property,
derandomized so a commit's result is reproducible); ``GSTJOBS_FAULTS=1`` (``make
faults``) runs hundreds of random examples per property and shrinks each failure to a
minimal command line.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from tests.conftest import AT_ANY_HOUR, CliResult, clean_env, url_text
from tests.faults.values import World

LONG = bool(os.environ.get("GSTJOBS_FAULTS"))
TIMEOUT = 60.0
"""A command that takes longer than this hangs (every case here takes about a second)."""

_COMMON = {
    "deadline": None,
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
    "print_blob": True,
}
settings.register_profile(
    "gstjobs-fast", derandomize=True, phases=(Phase.explicit, Phase.generate), **_COMMON
)
settings.register_profile("gstjobs-faults", **_COMMON)


def budget(fast: int, faults: int = 500) -> settings:
    """Settings for one property: ``fast`` examples in make test, ``faults`` in make faults."""
    profile = settings.get_profile("gstjobs-faults" if LONG else "gstjobs-fast")
    return settings(profile, max_examples=faults if LONG else fast)


@dataclass
class Runner:
    """The real command, in ``cwd``, with a clean environment plus ``base``."""

    cwd: Path
    base: dict[str, str]

    def __call__(
        self, args: tuple[str, ...] | list[str], env: Mapping[str, str | None] | None = None
    ) -> CliResult:
        """Run ``gstjobs ARGS``; in ``env`` a None value removes that variable."""
        command = [sys.executable, "-m", "gstjobs", *args]
        merged = {**self.base, **(env or {})}
        try:
            proc = subprocess.run(
                command,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=TIMEOUT,
                cwd=self.cwd,
                env=clean_env({k: v for k, v in merged.items() if v is not None}),
            )
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"hang: gstjobs {shlex.join(args)} did not finish in {TIMEOUT:.0f} s"
            ) from None
        return CliResult(proc.returncode, proc.stdout, proc.stderr)


@dataclass
class Fuzz:
    world: World
    run: Runner
    url: URL
    directory: Path

    def __repr__(self) -> str:
        return f"Fuzz({self.url.database} in {self.directory})"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # Hypothesis prints this
        p.text(repr(self))


VALID_RULE = {
    "name": "Critical or High SLA breach: alert the admins",
    "trigger_event": "sla_violation",
    "conditions": {"priority": {"in": ["Critical", "High"]}},
    "actions": [{"type": "notify", "recipient": "admins"}],
}


def _write_files(directory: Path) -> None:
    rules = directory / "rules"
    rules.mkdir()
    (rules / "valid.json").write_text(json.dumps(VALID_RULE))
    (rules / "invalid.json").write_text(json.dumps({**VALID_RULE, "trigger_event": "whenever"}))
    # Valid JSON that Python's decoder cannot take: nesting, and a 4,400-digit integer.
    (rules / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    big = json.dumps({**VALID_RULE, "conditions": {"actual_time": {"gt": "BIG"}}})
    (rules / "bigint.json").write_text(big.replace('"BIG"', "9" * 4400))
    (rules / "latin1.json").write_bytes(json.dumps(VALID_RULE).encode().replace(b"SLA", b"S\xe9A"))
    (rules / "empty.json").write_text("")
    (directory / "good.env").write_text("GSTJOBS_TIMEZONE=Asia/Kolkata\n")
    (directory / "latin1.env").write_bytes(b"# caf\xe9 des avocats\nGSTJOBS_TIMEZONE=UTC\n")
    (directory / "afile").write_text("a file where a directory is expected\n")


@pytest.fixture(scope="session")
def fuzz(
    admin_url: URL, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fuzz]:
    """A migrated database with the demo practices, and a directory of files to use."""
    name = f"gstjobs_f_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"'))
    url = admin_url.set(database=name)
    directory = tmp_path_factory.mktemp("fuzz")
    _write_files(directory)
    run = Runner(
        directory,
        {
            "DATABASE_URL": url_text(url),
            "GSTJOBS_DATA_DIR": str(directory / "data"),
            "XDG_DATA_HOME": str(directory / "xdg"),
            **AT_ANY_HOUR,  # a case may set its own quiet hours
        },
    )
    loaded = run(["demo", "--tenants", "2", "--tasks-per-tenant", "12", "--json"])
    assert loaded.code == 0, loaded.stderr
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        tenants = tuple(str(t) for t in conn.execute(text("SELECT id FROM tenants")).scalars())
    engine.dispose()
    yield Fuzz(World(url_text(url), tenants), run, url, directory)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
