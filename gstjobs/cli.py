"""The ``gstjobs`` command: registers the commands and is the one error boundary.

Every command parses, calls the library, renders. ``main`` alone maps exceptions to
a one-line message on stderr and the exit codes of CONTRACT §2; ``-v`` adds the
traceback.
"""

from __future__ import annotations

import logging
import sys
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from typer._click.exceptions import NoArgsIsHelpError

from gstjobs import __version__, render
from gstjobs.clock import iso_z
from gstjobs.commands import analytics, common, db, demo, health, ledger, notify, rules, run
from gstjobs.config import load_env_file, load_settings
from gstjobs.db import describe
from gstjobs.errors import DatabaseUnavailable, GstjobsError, UsageError, first_line
from gstjobs.guard import Stopped
from gstjobs.jobs import find
from gstjobs.render import print_json

log = logging.getLogger(__name__)

app = typer.Typer(
    name="gstjobs",
    help="Background jobs for GST litigation practices: SLA checks, hearing reminders, "
    "deadline alerts, analytics snapshots and automation health, against PostgreSQL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for module in (run, ledger, health, db, demo, rules, notify, analytics):
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
        load_env_file(env_file, required=True)
    else:
        load_env_file(Path.cwd() / ".env", required=False)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING if not quiet else logging.ERROR,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    ctx.obj = common.AppState(load_settings(database_url=database_url), json_, quiet, verbose)


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
    command: Any = typer.main.get_command(app)
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
    except Exception:  # an unparseable line: the error boundary still answers it
        log.debug("could not read the command line", exc_info=True)
    job = params.get("job")
    return Invocation(
        tuple(path),
        bool(params.get("json_")),
        bool(params.get("verbose")),
        job if isinstance(job, str) else None,
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code.

    The one error boundary: every failure becomes one line on stderr and a documented
    exit code (CONTRACT §2); with ``--json`` also one JSON document on stdout; for
    ``health-report`` anything that keeps it from evaluating is UNKNOWN (3) with a
    ``GSTJOBS UNKNOWN - reason`` line, never a WARNING or CRITICAL by accident.
    """
    args = sys.argv[1:] if argv is None else argv
    how = read_invocation(args)
    command = typer.main.get_command(app)
    try:
        result = command.main(args, prog_name="gstjobs", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except typer.Exit as exc:
        return int(exc.exit_code)
    except NoArgsIsHelpError as exc:  # a bare group: its help, as --help would
        render.stdout.print(exc.ctx.get_help(), markup=False, highlight=False)
        return 0
    except typer.Abort:
        return _fail(how, "aborted", 130)
    except typer.TyperException as exc:  # click usage errors: unknown command, bad option
        return _fail(how, f"{exc.format_message()} (see gstjobs --help)", 2)
    except GstjobsError as exc:
        _traceback(how)
        return _fail(how, exc.message, exc.exit_code, exc.details)
    except DBAPIError as exc:
        _traceback(how)
        lost = isinstance(exc, OperationalError | InterfaceError) and not _timed_out(exc)
        return _fail(how, describe(exc), DatabaseUnavailable.exit_code if lost else 1)
    except Stopped as exc:
        message = f"{exc.reason}; the run, if one started, is recorded as failed"
        return _fail(how, message, 130 if exc.signal_name == "SIGINT" else 1)
    except KeyboardInterrupt:
        return _fail(how, "interrupted by SIGINT", 130)
    except Exception as exc:  # a bug: still one line, unless -v
        _traceback(how)
        message = f"internal error: {type(exc).__name__}: {first_line(exc)}"
        return _fail(how, message + " (run with -v for the traceback)", 1)


def _timed_out(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in ("57014", "55P03")


def _traceback(how: Invocation) -> None:
    if how.verbose:
        traceback.print_exc()


def _fail(how: Invocation, message: str, code: int, details: str | None = None) -> int:
    """One line on stderr; the JSON error document or the UNKNOWN status line on stdout."""
    sys.stderr.write(f"gstjobs: {message}" + (f" ({details})" if details else "") + "\n")
    if how.command == "health-report":
        if how.json:
            print_json(
                {"status": "UNKNOWN", "exitCode": 3, "error": message, "errorDetails": details}
            )
        else:
            sys.stdout.write(f"GSTJOBS UNKNOWN - {message}\n")
        return 3
    if how.json:
        doc: dict[str, object] = {"success": False}
        if how.command == "run" and how.job:
            doc["job"] = _job_name(how.job)
        doc |= {"error": message, "errorDetails": details, "executedAt": iso_z(datetime.now(UTC))}
        print_json(doc)
    return code


def _job_name(given: str) -> str:
    try:
        return find(given).name
    except UsageError:
        return given


if __name__ == "__main__":
    sys.exit(main())
