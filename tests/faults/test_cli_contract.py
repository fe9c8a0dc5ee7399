"""The fuzz findings of issue 9 as fixed cases: each minimal command line that broke the
contract, checked with the same properties as the fuzz (tests/faults/checks.py); an
unknown --tenant for every command that takes one; bare group commands.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import CliResult
from tests.faults.checks import ONE_ERROR_LINE, check_cli, explain, lines
from tests.faults.conftest import Fuzz
from tests.faults.model import OPTIONS, Argv, argv
from tests.faults.values import today

NOBODY = "3f2b8c1e-5d4a-4c7b-9e1f-2a6d8b0c4e7f"
"""A well-formed tenant id that no practice has."""

RUN = ("run",)
HEALTH = ("health-report",)
STATUS = ("status",)
MINIMAL: list[Argv] = [
    # -v is found by scanning argv, so an option's value "-v" turns tracebacks on
    argv("run", "sla-check", "--tenant", "-v", command=RUN),
    argv("--database-url", "-v", "status", command=STATUS),
    # moments the jobs cannot handle: accepted, then a crash or a failed run
    argv("run", "sla-check", "--as-of", "9999-12-31T23:00Z", command=RUN),
    argv("run", "deadline-alerts", "--as-of", "9999-12-31T23:00Z", command=RUN),
    argv("run", "analytics-snapshot", "--as-of", "0001-01-01T00:00Z", command=RUN),
    argv("analytics", "backfill", "--from", "0001-01-01", "--to", "0001-01-01",
         command=("analytics", "backfill")),
    argv("health-report", "--as-of", "9999-12-31T23:00Z", command=HEALTH),
    # health-report that cannot evaluate: exit 3, but nothing on stdout for Nagios
    argv("health-report", "--hours", "0", command=HEALTH),
    # files, names and URLs that reach Python's decoders or the OS before any check
    argv("--json", "--env-file", "latin1.env", "status", command=STATUS, json=True),
    argv("--env-file", "x" * 300, "status", command=STATUS),
    argv("--env-file", "a\nb", "status", command=STATUS),
    argv("rules", "validate", "rules/deep.json", command=("rules", "validate")),
    argv("rules", "validate", "rules/bigint.json", command=("rules", "validate")),
    argv("--database-url", "postgresql://127.0.0.1:5432/x?bogus=1", "status", command=STATUS),
    # a bare group under --json: help, an error line with no message, and JSON on stdout
    argv("--json", "db", json=True),
]  # fmt: skip


def _takes_tenant() -> list[tuple[str, ...]]:
    """Every command line whose command takes --tenant."""
    found: list[tuple[str, ...]] = []
    for path, options in OPTIONS.items():
        if "--tenant" not in options:
            continue
        if path == RUN:
            found.append(("run", "sla-check"))  # every job loads its tenants in the runner
        elif path == ("analytics", "backfill"):
            days = [(today() - timedelta(days=k)).isoformat() for k in (2, 1)]
            found.append((*path, "--from", days[0], "--to", days[1]))
        else:
            found.append(path)
    return found


TENANT_COMMANDS = _takes_tenant()
GROUPS = [(), ("db",), ("notify",), ("rules",)]
MISSING_ENV_FILE = ("--env-file", "absent.env", "status")


class Outcomes(dict[tuple[str, ...], CliResult | AssertionError]):
    def __repr__(self) -> str:  # pytest shows the fixture of a failing test
        return f"Outcomes({len(self)} command lines)"


def _takes_a_job_lock(args: tuple[str, ...]) -> bool:
    words = [a for a in args if not a.startswith("-")]
    return words[:1] == ["run"] or words[:2] == ["analytics", "backfill"]


@pytest.fixture(scope="module")
def outcomes(fuzz: Fuzz) -> Outcomes:
    """Every command line of this module, run two at a time (the machine has two cores):
    those that take a job's lock one after another in one lane, the rest in the other."""
    every = [
        *(case.args for case in MINIMAL),
        *((*command, "--tenant", NOBODY) for command in TENANT_COMMANDS),
        *GROUPS,
        ("analytics",),
        MISSING_ENV_FILE,
    ]

    def lane(commands: list[tuple[str, ...]]) -> Outcomes:
        out = Outcomes()
        for args in commands:
            try:
                out[args] = fuzz.run(args)
            except AssertionError as hang:
                out[args] = hang
        return out

    lanes = [[a for a in every if _takes_a_job_lock(a) == locks] for locks in (True, False)]
    with ThreadPoolExecutor(2) as pool:
        return Outcomes({k: v for part in pool.map(lane, lanes) for k, v in part.items()})


def result(outcomes: Outcomes, args: tuple[str, ...]) -> CliResult:
    found = outcomes[args]
    if isinstance(found, AssertionError):
        raise found
    return found


@pytest.mark.parametrize("case", MINIMAL, ids=repr)
def test_minimal_command_lines_keep_the_contract(outcomes: Outcomes, case: Argv) -> None:
    check_cli(case, result(outcomes, case.args))


def test_a_missing_env_file_is_a_configuration_error(outcomes: Outcomes) -> None:
    found = result(outcomes, MISSING_ENV_FILE)
    assert found.code == 78, explain(MISSING_ENV_FILE, found)
    (line,) = lines(found.stderr)
    assert line.startswith("gstjobs: ") and "absent.env" in line


@pytest.mark.parametrize("command", TENANT_COMMANDS, ids=" ".join)
def test_an_unknown_tenant_exits_2_everywhere(outcomes: Outcomes, command: tuple[str, ...]) -> None:
    args = (*command, "--tenant", NOBODY)
    found = result(outcomes, args)
    assert found.code == 2, explain(args, found)
    (line,) = lines(found.stderr)
    assert ONE_ERROR_LINE.match(line) and NOBODY in line, explain(args, found)


@pytest.mark.parametrize("group", GROUPS, ids=repr)
def test_a_bare_group_prints_its_help(outcomes: Outcomes, group: tuple[str, ...]) -> None:
    found = result(outcomes, group)
    where = explain(group, found)
    assert "Usage: gstjobs" in found.stdout + found.stderr, where
    assert found.code in (0, 2), where
    for line in lines(found.stderr):  # no "gstjobs:  (see gstjobs --help)"
        assert ONE_ERROR_LINE.match(line), where


def test_bare_analytics_is_the_trend_view(outcomes: Outcomes) -> None:
    """``gstjobs analytics`` with no subcommand is the documented trend view (README)."""
    found = result(outcomes, ("analytics",))
    assert found.code == 0 and not found.stderr.strip(), explain(("analytics",), found)


def test_demo_at_the_end_of_the_calendar_keeps_the_contract(cli: Any) -> None:
    """On a database of its own: whatever demo makes of the moment, it writes nothing there
    that the shared fuzz database would then carry into every other case."""
    case = argv("demo", "--as-of", "9999-12-31T23:00Z", command=("demo",))
    check_cli(case, cli(*case.args))
