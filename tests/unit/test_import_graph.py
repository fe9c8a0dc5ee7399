"""Start-up pays only for what a command uses (issue 11, item 4).

Cron and monitoring call the CLI thousands of times a day; ``--version`` and the help
screens must not import the database, template or delivery stack. The test asserts the
import graph in a fresh interpreter, not a time (times are measured in ``make bench``).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "sqlalchemy",
    "psycopg",
    "jinja2",
    "pydantic",
    "rich",
    "croniter",
    "tabulate",
    "prometheus_client",
    "dotenv",
    "email.mime",
    "smtplib",
    "http.client",
    "gstjobs.db",
    "gstjobs.runner",
    "gstjobs.notify",
    "gstjobs.automation",
    "gstjobs.limitation",
    "gstjobs.analytics",
    "gstjobs.health",
    "gstjobs.demo",
)

PROBE = """
import contextlib, io, json, sys
from gstjobs.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main({argv!r})
print(json.dumps({{"code": code, "out": out.getvalue(), "modules": sorted(sys.modules)}}))
"""


def _imported(argv: list[str]) -> tuple[int, str, set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=argv)],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
    )
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return answer["code"], answer["out"], set(answer["modules"])


def _heavy(modules: set[str]) -> list[str]:
    return sorted(
        name for name in modules if any(name == h or name.startswith(h + ".") for h in HEAVY)
    )


@pytest.mark.parametrize(
    "argv",
    [["--version"], ["--help"], ["run", "--help"], ["history", "--help"], ["schedule", "--help"]],
)
def test_help_and_version_import_nothing_heavy(argv: list[str]) -> None:
    code, out, modules = _imported(argv)
    assert code == 0
    assert out.strip(), "the command printed nothing"
    assert _heavy(modules) == []


def test_the_probe_sees_heavy_imports_when_a_command_needs_them() -> None:
    # the same probe must notice the database stack once a command reaches for it,
    # or the test above proves nothing (port 1 refuses at once: exit 69, nothing sent)
    code, _, modules = _imported(["status", "--database-url", "postgresql://nobody@127.0.0.1:1/x"])
    assert code == 69
    assert {"sqlalchemy", "psycopg", "gstjobs.db"} <= modules
