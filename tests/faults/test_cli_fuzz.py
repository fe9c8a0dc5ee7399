"""CLI fuzzing (issue 9): generated command lines for every command and option, run as
the real command against a migrated database with demo practices.

For every command line: no traceback unless -v was truly given as an option; a failure
is exactly one ``gstjobs: <message>`` line on stderr; the exit code is one the contract
documents for that command; with ``--json`` stdout is one JSON document whatever
happened; health-report that cannot evaluate exits 3 with one ``GSTJOBS UNKNOWN -
reason`` line; a job never fails because of its command line (bad input is refused).
"""

from __future__ import annotations

import typer
from hypothesis import given
from hypothesis import strategies as st
from typer.main import get_command

from gstjobs.cli import app
from tests.faults.checks import check_cli
from tests.faults.conftest import Fuzz, budget
from tests.faults.model import OPTIONS, argvs


@budget(fast=16, faults=600)
@given(data=st.data())
def test_every_command_line_keeps_the_contract(fuzz: Fuzz, data: st.DataObject) -> None:
    argv = data.draw(argvs(fuzz.world), label="argv")
    check_cli(argv, fuzz.run(argv.args))


def _tree() -> dict[tuple[str, ...], set[str]]:
    """Every command path of the real CLI with its options (positionals in capitals)."""
    found: dict[tuple[str, ...], set[str]] = {}

    def walk(command: object, path: tuple[str, ...]) -> None:
        params = getattr(command, "params", [])
        names = set()
        for p in params:
            if p.param_type_name == "argument":
                names.add(str(p.name).upper())
            else:
                names.update(o for o in p.opts if o != "--help")
        subcommands = getattr(command, "list_commands", None)
        if not subcommands or names or getattr(command, "invoke_without_command", False):
            found[path] = names
        if subcommands:
            ctx = typer.Context(command)  # type: ignore[arg-type]
            for name in subcommands(ctx):
                walk(command.get_command(ctx, name), (*path, name))  # type: ignore[attr-defined]

    walk(get_command(app), ())
    return found


def test_the_model_covers_every_option() -> None:
    """A new command or option fails here until the fuzz model gives it values."""
    model = {path: set(options) - {"--help"} for path, options in OPTIONS.items()}
    assert _tree() == model
