"""The ``gstjobs`` command: registers the commands and is the one error boundary.

Every command parses, calls the library, renders. ``main`` alone maps exceptions to
a one-line message on stderr and the exit codes of CONTRACT §2; ``-v`` adds the
traceback. Global options may come before or after the command.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from gstjobs import __version__
from gstjobs.commands import (
    analytics,
    common,
    db,
    demo,
    health,
    ledger,
    limitation,
    notify,
    ops,
    rules,
    run,
    schedule,
)
from gstjobs.errors import DatabaseUnavailable, GstjobsError, UsageError
from gstjobs.guard import Stopped

log = logging.getLogger(__name__)

SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Jobs", ("run", "run-due", "pause", "resume")),
    ("Monitoring", ("status", "history", "health-report", "metrics", "doctor")),
    ("Outbox", ("notify",)),
    ("Rules", ("rules",)),
    ("Analytics", ("analytics",)),
    ("Statutory dates", ("limitation",)),
    ("Database", ("db", "prune")),
    ("Installation", ("schedule",)),
    ("Demo", ("demo",)),
)
"""How ``gstjobs --help`` groups the commands; a command in no section is listed last."""


class SectionedGroup(TyperGroup):
    """``gstjobs --help`` with the commands grouped by what they are for."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        listed: set[str] = set()
        for title, names in SECTIONS:
            rows = []
            for name in names:
                cmd = self.get_command(ctx, name)
                if cmd is not None and not cmd.hidden:
                    rows.append((name, cmd.get_short_help_str(limit=60)))
                    listed.add(name)
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)
        rest = [
            (name, cmd.get_short_help_str(limit=60))
            for name in self.list_commands(ctx)
            if name not in listed and (cmd := self.get_command(ctx, name)) and not cmd.hidden
        ]
        if rest:
            with formatter.section("Other"):
                formatter.write_dl(rest)


app = typer.Typer(
    name="gstjobs",
    cls=SectionedGroup,
    help="Background jobs for GST litigation practices, against PostgreSQL: SLA checks, "
    "statutory limitation dates, hearing reminders, deadline alerts, analytics snapshots, "
    "automation health, delivery and pruning, one single-shot run per invocation (from "
    "cron or systemd timers).",
    epilog="Examples: gstjobs run sla-check | gstjobs status | gstjobs history --since 24h | "
    "gstjobs health-report | gstjobs run --help (the jobs and their schedules)",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

for module in (
    run,
    ops,
    ledger,
    health,
    db,
    demo,
    rules,
    notify,
    analytics,
    limitation,
    schedule,
):
    module.register(app)


def _version(ctx: typer.Context, value: bool) -> None:
    # Not while the boundary only reads the command line (resilient parsing): it would
    # print the version twice.
    if value and not ctx.resilient_parsing:
        typer.echo(f"gstjobs {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    env_file: Annotated[
        Path | None,
        typer.Option(
            "--env-file",
            metavar="PATH",
            help="Read settings from this file (default: ./.env if present).",
            dir_okay=False,
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            metavar="URL",
            help="PostgreSQL URL; overrides DATABASE_URL.",
            show_default=False,
        ),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Print nothing but errors.")] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "-v", "--verbose", help="Print run summaries under cron too; tracebacks on errors."
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Global options; settings are read when a command first needs them."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING if not quiet else logging.ERROR,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    ctx.obj = common.AppState(env_file, database_url, json_, quiet, verbose)


# ---------------------------------------------------------------- the command line
GLOBAL_FLAGS = ("-q", "--quiet", "-v", "--verbose", "--json")
GLOBAL_WITH_VALUE = ("--env-file", "--database-url")


@cache
def click_command() -> Any:
    """The click command tree Typer builds from ``app``: built once per process (each
    build inspects every command's signature, about 50 ms of start-up)."""
    return typer.main.get_command(app)


def hoist_globals(args: Sequence[str]) -> list[str]:
    """Global options given after the command, moved before it (``gstjobs run x -q``).

    Read with the commands' own option tables, so the value of an option (``--tenant
    -v``) is never mistaken for a flag. ``--json`` stays where it is (every command has
    its own)."""
    command: Any = click_command()
    front: list[str] = []
    rest: list[str] = []
    i, inside = 0, False
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        name = arg.split("=", 1)[0]
        if inside and name in GLOBAL_WITH_VALUE:
            taken = 1 if "=" in arg else 2
            front.extend(args[i : i + taken])
            i += taken
            continue
        if inside and arg in GLOBAL_FLAGS and arg != "--json":
            front.append(arg)
            i += 1
            continue
        rest.append(arg)
        if arg.startswith("-"):
            if "=" not in arg and _takes_value(command, arg) and i + 1 < len(args):
                rest.append(args[i + 1])
                i += 1
        elif hasattr(command, "get_command"):
            sub = command.get_command(None, arg)
            if sub is not None:
                command, inside = sub, True
        i += 1
    return front + rest


def _takes_value(command: Any, option: str) -> bool:
    for param in getattr(command, "params", []):
        if option in getattr(param, "opts", ()) or option in getattr(param, "secondary_opts", ()):
            return not getattr(param, "is_flag", False) and not getattr(param, "count", False)
    return False


@dataclass(frozen=True)
class Invocation:
    """What a command line asks for, read with click's own parser (so ``-v`` given as an
    option's value is a value, not the flag)."""

    path: tuple[str, ...] = ()
    json: bool = False
    verbose: bool = False
    job: str | None = None
    """``gstjobs run JOB``: the job as given."""

    @property
    def command(self) -> str | None:
        return self.path[0] if self.path else None


def read_invocation(args: list[str]) -> Invocation:
    params: dict[str, object] = {}
    path: list[str] = []
    command: Any = click_command()
    rest, parent = list(args), None
    try:
        while True:
            ctx = command.make_context(
                command.name or "gstjobs", rest, parent=parent, resilient_parsing=True
            )
            params.update({k: v for k, v in ctx.params.items() if v})
            if not hasattr(command, "get_command"):
                break
            rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
            sub = command.get_command(ctx, rest[0]) if rest else None
            if sub is None:
                break
            path.append(rest[0])
            command, rest, parent = sub, rest[1:], ctx
    except Exception:  # an unparseable line: read below, plainly
        log.debug("could not read the command line", exc_info=True)
    if not path:  # e.g. an unknown option before the command: find the command word
        names = getattr(click_command(), "commands", {})
        word = next((a for a in args if a in names), None)
        return Invocation((word,) if word else (), "--json" in args, False)
    job = params.get("job")
    return Invocation(
        tuple(path),
        # An unknown option stops click's parsing before a later --json is read.
        bool(params.get("json_")) or "--json" in args,
        bool(params.get("verbose")),
        job if isinstance(job, str) else None,
    )


# ---------------------------------------------------------------- the error boundary
def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code.

    The one error boundary: every failure becomes one line on stderr and a documented
    exit code (CONTRACT §2); with ``--json`` also one JSON document on stdout; for
    ``health-report`` anything that keeps it from evaluating is UNKNOWN (3) with a
    ``GSTJOBS UNKNOWN - reason`` line, never a WARNING or CRITICAL by accident.
    """
    from typer._click.exceptions import NoArgsIsHelpError

    args = hoist_globals(sys.argv[1:] if argv is None else argv)
    how = read_invocation(args)
    command = click_command()
    try:
        result = command.main(args, prog_name="gstjobs", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except typer.Exit as exc:
        return int(exc.exit_code)
    except NoArgsIsHelpError as exc:  # a bare group: its help, as --help would
        if how.json:  # stdout is for the one JSON document
            named = " ".join(("gstjobs", *how.path))
            return _fail(how, f"a command is missing; see {named} --help", 2)
        sys.stdout.write(exc.ctx.get_help() + "\n")
        return 0
    except typer.Abort:
        return _fail(how, "aborted", 130)
    except typer.TyperException as exc:  # click usage errors: unknown command, bad option
        ctx = getattr(exc, "ctx", None)  # the command whose line was wrong, when known
        where = ctx.command_path if ctx is not None and ctx.command_path else "gstjobs"
        return _fail(how, f"{exc.format_message()} (see {where} --help)", 2)
    except GstjobsError as exc:
        _traceback(how)
        return _fail(how, exc.message, exc.exit_code, exc.details)
    except Stopped as exc:
        message = f"{exc.reason}; the run, if one started, is recorded as failed"
        return _fail(how, message, 130 if exc.signal_name == "SIGINT" else 1)
    except KeyboardInterrupt:
        return _fail(how, "interrupted by SIGINT", 130)
    except Exception as exc:
        _traceback(how)
        database = _database_error(exc)
        if database is not None:
            return _fail(how, *database)
        from gstjobs.errors import first_line

        message = f"internal error: {type(exc).__name__}: {first_line(exc)}"
        return _fail(how, message + " (run with -v for the traceback)", 1)


def _database_error(exc: Exception) -> tuple[str, int] | None:
    """A driver error's one line and exit code: 69 when the database is out of reach,
    1 when a statement ran out of time or failed; None for anything else."""
    from sqlalchemy.exc import DBAPIError

    from gstjobs.db import describe, is_link_error

    if not isinstance(exc, DBAPIError):
        return None
    return describe(exc), DatabaseUnavailable.exit_code if is_link_error(exc) else 1


def _traceback(how: Invocation) -> None:
    if how.verbose:
        traceback.print_exc()


def _fail(how: Invocation, message: str, code: int, details: str | None = None) -> int:
    """One line on stderr; the JSON error document or the UNKNOWN status line on stdout."""
    from gstjobs.clock import iso_z
    from gstjobs.render import print_json

    # One line whatever the message quotes (a file name or a rule field may hold a line
    # break or a carriage return): control characters are shown escaped.
    message = _one_line(message)
    details = _one_line(details) if details else details
    sys.stderr.write(f"gstjobs: {message}" + (f" ({details})" if details else "") + "\n")
    if how.command in ("health-report", "doctor"):
        if how.json:
            unknown = {"status": "UNKNOWN", "exitCode": 3, "error": message}
            print_json(unknown | {"errorDetails": details})
        else:
            label = "GSTJOBS DOCTOR" if how.command == "doctor" else "GSTJOBS"
            sys.stdout.write(f"{label} UNKNOWN - {message}\n")
        return 3
    if how.json:
        doc: dict[str, object] = {"success": False}
        if how.command == "run" and how.job:
            doc["job"] = _job_name(how.job)
        doc |= {"error": message, "errorDetails": details, "executedAt": iso_z(datetime.now(UTC))}
        print_json(doc)
    return code


def _one_line(text: str) -> str:
    """``text`` with each control character (a line break, a carriage return, an
    escape) written as Python would in a string literal, so it stays one line."""
    import unicodedata

    return "".join(
        repr(ch)[1:-1] if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in text
    )


def _job_name(given: str) -> str:
    from gstjobs.jobs import find

    try:
        return find(given).name
    except UsageError:
        return given


if __name__ == "__main__":
    sys.exit(main())
