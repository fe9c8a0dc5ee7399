"""The ``gstjobs`` command: registers the commands and is the one error boundary.

Every command parses, calls the library, renders. ``main`` alone maps exceptions to
a one-line message on stderr and the exit codes of CONTRACT §2; ``-v`` adds the
traceback.
"""

from __future__ import annotations

import logging
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from dotenv import load_dotenv
from sqlalchemy.exc import OperationalError

from gstjobs import __version__
from gstjobs.clock import iso_z
from gstjobs.commands import (
    analytics,
    common,
    db,
    demo,
    health,
    ledger,
    limitation,
    notify,
    rules,
    run,
)
from gstjobs.config import load_settings
from gstjobs.errors import DatabaseUnavailable, GstjobsError, UsageError, first_line
from gstjobs.jobs import find
from gstjobs.render import print_json
from gstjobs.runner import Interrupted

app = typer.Typer(
    name="gstjobs",
    help="Background jobs for GST litigation practices: SLA checks, hearing reminders, "
    "deadline alerts, analytics snapshots and automation health, against PostgreSQL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for module in (run, ledger, health, db, demo, rules, notify, analytics, limitation):
    module.register(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gstjobs {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    env_file: Annotated[
        Path | None,
        typer.Option(
            "--env-file",
            help="Read settings from this file (default: ./.env if present).",
            dir_okay=False,
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url", help="PostgreSQL URL; overrides DATABASE_URL.", show_default=False
        ),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Print nothing but errors.")] = False,
    verbose: Annotated[
        bool, typer.Option("-v", "--verbose", help="Log progress to stderr; tracebacks on errors.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Global options; settings are read once, here."""
    if env_file is not None:
        if not env_file.is_file():
            raise UsageError(f"--env-file {env_file} does not exist.")
        load_dotenv(env_file, override=False)
    else:
        load_dotenv(Path.cwd() / ".env", override=False)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING if not quiet else logging.ERROR,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    ctx.obj = common.AppState(load_settings(database_url=database_url), json_, quiet, verbose)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    args = sys.argv[1:] if argv is None else argv
    code = _main(args)
    if code not in (0, 1, 2, 3) and _command_of(args) == "health-report":
        # A monitoring check that cannot evaluate is UNKNOWN (3), whatever the reason:
        # Nagios would read 69 or 78 as UNKNOWN anyway, but 2 as CRITICAL.
        return 3
    return code


def _main(args: list[str]) -> int:
    verbose = any(a in ("-v", "--verbose") for a in args)
    command = typer.main.get_command(app)
    try:
        result = command.main(args, prog_name="gstjobs", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        _error("aborted")
        return 130
    except typer.TyperException as exc:  # click usage errors: unknown command, bad option
        _error(f"{exc.format_message()} (see gstjobs --help)", args)
        code = int(getattr(exc, "exit_code", 2))
        return 3 if _command_of(args) == "health-report" else code
    except GstjobsError as exc:
        if verbose:
            traceback.print_exc()
        _error(exc.message, args, exc.details)
        if _command_of(args) == "health-report" and exc.exit_code == UsageError.exit_code:
            return 3
        return exc.exit_code
    except OperationalError as exc:
        if verbose:
            traceback.print_exc()
        _error(str(DatabaseUnavailable.__doc__), args, first_line(exc))
        return DatabaseUnavailable.exit_code
    except (KeyboardInterrupt, Interrupted) as exc:
        reason = exc.args[0] if exc.args else "SIGINT"
        _error(f"interrupted by {reason}; the run, if one started, is recorded as failed")
        return 1 if isinstance(exc, Interrupted) else 130
    except Exception as exc:  # a bug: still one line, unless -v
        if verbose:
            traceback.print_exc()
        _error(
            f"internal error: {type(exc).__name__}: {first_line(exc)} "
            "(run with -v for the traceback)"
        )
        return 1


_GLOBAL_WITH_VALUE = ("--env-file", "--database-url")


def _command_of(args: list[str]) -> str | None:
    """The command word of a command line (skipping global options and their values)."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in _GLOBAL_WITH_VALUE:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def _error(message: str, args: list[str] | None = None, details: str | None = None) -> None:
    """One line on stderr; with --json also the seed's error response on stdout."""
    sys.stderr.write(f"gstjobs: {message}" + (f" ({details})" if details else "") + "\n")
    if args and "--json" in args:
        doc: dict[str, object] = {"success": False}
        if _command_of(args) == "run" and args.index("run") + 1 < len(args):
            doc["job"] = _job_name(args[args.index("run") + 1])
        doc |= {"error": message, "errorDetails": details, "executedAt": iso_z(datetime.now(UTC))}
        print_json(doc)


def _job_name(given: str) -> str:
    try:
        return find(given).name
    except UsageError:
        return given


if __name__ == "__main__":
    sys.exit(main())
