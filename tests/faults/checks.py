"""The contract every command line must keep (CONTRACT §2), as assertions.

Each property is its own ``assert`` line, so Hypothesis reports distinct violations
separately and each message says which rule broke, with the command and its output.
"""

from __future__ import annotations

import json
import re

from tests.conftest import CliResult
from tests.faults import model
from tests.faults.model import Argv

EXIT_CODES = frozenset({0, 1, 2, 69, 78})
HEALTH_CODES = frozenset({0, 1, 2, 3})
ONE_ERROR_LINE = re.compile(r"^gstjobs: (?! |\(see gstjobs --help\))\S")
"""``gstjobs: `` and a message (not ``gstjobs:  (see gstjobs --help)``)."""
RUNS = {("run",), ("analytics", "backfill")}


def lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


def explain(args: tuple[str, ...] | list[str], result: CliResult) -> str:
    def cut(text: str) -> str:
        return text if len(text) < 1200 else text[:1200] + f"... ({len(text)} chars)"

    return (
        f"\n  command: gstjobs {model.shown(args)}\n  exit:    {result.code}\n"
        f"  stdout:  {cut(result.stdout)!r}\n  stderr:  {cut(result.stderr)!r}"
    )


def is_json_document(stdout: str) -> bool:
    try:
        json.loads(stdout)
    except ValueError:
        return False
    return True


def check_cli(argv: Argv, r: CliResult) -> None:
    """The properties of one command line's outcome."""
    where = explain(argv.args, r)
    err = lines(r.stderr)
    if not argv.verbose:
        assert "Traceback" not in r.stderr, "a traceback without -v:" + where
    assert "internal error" not in r.stderr, "an internal error (a bug):" + where
    if argv.plugin:
        assert r.code in HEALTH_CODES, "health-report and doctor exit only 0/1/2/3:" + where
    else:
        assert r.code in EXIT_CODES, "exit code not one of 0/1/2/69/78:" + where
    failed = r.code not in ((0, 1, 2) if argv.plugin else (0,))
    if failed and not argv.verbose:
        assert len(err) == 1, "a failure must be exactly one line on stderr:" + where
        assert ONE_ERROR_LINE.match(err[0]), "the error line is 'gstjobs: <message>':" + where
    if argv.json and not argv.eager:
        assert is_json_document(r.stdout), "--json: stdout must be one JSON document:" + where
    if argv.health and any(e.startswith("gstjobs: ") for e in err):
        assert r.code == 3, "health-report that cannot evaluate exits 3 (UNKNOWN):" + where
    if argv.health and r.code == 3 and not argv.json and not argv.eager:
        out = lines(r.stdout)
        assert len(out) == 1 and out[0].startswith("GSTJOBS UNKNOWN - "), (
            "health-report UNKNOWN prints one 'GSTJOBS UNKNOWN - reason' line:" + where
        )
    if argv.command in RUNS:
        assert r.code != 1, "a job failed on healthy data: the input should be refused:" + where
