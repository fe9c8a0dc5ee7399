"""What every command shares: the app state, option aliases, and output.

Nothing heavy is imported here at module level: ``gstjobs --help``, ``--version`` and
each command's ``--help`` must start fast (cron and monitoring call the CLI thousands
of times a day), so the database stack and Rich load when a command needs them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import typer

if TYPE_CHECKING:
    from rich.console import RenderableType
    from sqlalchemy import Connection, Engine

    from gstjobs.config import Settings
    from gstjobs.db import Database


@dataclass
class AppState:
    """The global options; settings and the database are read on first use, so that
    help works whatever the environment holds."""

    env_file: Path | None = None
    database_url: str | None = None
    json: bool = False
    quiet: bool = False
    verbose: bool = False
    _settings: Settings | None = field(default=None, repr=False)
    _db: Database | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from gstjobs.config import load_env_file, load_settings

            if self.env_file is not None:
                load_env_file(self.env_file, required=True)
            else:
                load_env_file(Path.cwd() / ".env", required=False)
            self._settings = load_settings(database_url=self.database_url)
        return self._settings

    @property
    def db(self) -> Database:
        if self._db is None:
            from gstjobs.db import resolve

            self._db = resolve(self.settings)
        return self._db

    @property
    def terse(self) -> bool:
        """Print nothing on success: -q, or no terminal (cron, a pipe) unless -v."""
        return self.quiet or (not sys.stdout.isatty() and not self.verbose)

    @contextmanager
    def engine(self, purpose: str) -> Iterator[Engine]:
        from gstjobs.db import make_engine

        engine = make_engine(self.db, self.settings, purpose=purpose)
        try:
            yield engine
        finally:
            engine.dispose()

    @contextmanager
    def connection(self, purpose: str, *, autocommit: bool = True) -> Iterator[Connection]:
        from gstjobs.db import connect

        with (
            self.engine(purpose) as engine,
            connect(engine, self.db.label, autocommit=autocommit) as conn,
        ):
            yield conn


def state(ctx: typer.Context, json_flag: bool = False) -> AppState:
    app_state: AppState = ctx.find_root().obj
    if json_flag:
        app_state.json = True
    return app_state


def show(
    app_state: AppState,
    document: Callable[[], Any],
    view: Callable[[], RenderableType],
    *,
    report: bool = False,
) -> None:
    """Print the JSON document (``--json``) or the Rich view (unless ``-q``).

    ``report``: the view reports work done (a run, a send): under cron or in a pipe it
    is printed only with ``-v``, so a scheduled success is silent. A dry run is no
    report: its output is its purpose, so its callers pass ``report=False``."""
    from gstjobs import render

    if app_state.json:
        render.print_json(document())
    elif not (app_state.terse if report else app_state.quiet):
        render.stdout.print(view())


def parse_tenants(values: list[str] | None) -> tuple[str, ...]:
    """The --tenant values checked for form (ids, or prefixes of 8+ characters), before
    any connection is made."""
    from gstjobs.tenants import parse_refs

    return parse_refs(values or [])


def tenant_ids(app_state: AppState, values: list[str] | None) -> tuple[UUID, ...]:
    """The --tenant values as practice ids; a prefix is looked up (UsageError when no
    practice or more than one has it). Full ids are checked later, by the command."""
    refs = parse_tenants(values)
    if all(_is_uuid(r) for r in refs):
        return tuple(UUID(r) for r in refs)
    from gstjobs import tenants

    with app_state.connection("tenants") as conn:
        return tenants.resolve(conn, refs)


def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True


def parse_as_of(value: str | None, app_state: AppState) -> datetime | None:
    from gstjobs.clock import check_in_range, parse_moment

    return check_in_range(parse_moment(value, app_state.settings.tz)) if value else None


def known_tenants(conn: Connection, values: list[str] | None) -> list[UUID]:
    """The --tenant values as ids of practices that exist; UsageError (exit 2) otherwise."""
    from gstjobs import tenants

    wanted = tenants.resolve(conn, values or [])
    if wanted:
        tenants.load(conn, wanted)  # raises for an id no practice has
    return list(wanted)


JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON document on stdout instead of tables.")
]
TenantOption = Annotated[
    list[str] | None,
    typer.Option("--tenant", metavar="UUID", help="Only this practice (repeatable)."),
]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        metavar="TIMESTAMP",
        help="As if the clock showed this ISO 8601 moment (no offset: GSTJOBS_TIMEZONE).",
    ),
]
ShardOption = Annotated[
    str | None,
    typer.Option(
        "--shard",
        metavar="K/N",
        help="Only shard K of N of the practices (a stable split across hosts).",
    ),
]


def parse_shard(value: str | None) -> str:
    """--shard as ``K/N`` (0 <= K < N <= 64), or "" for all practices."""
    from gstjobs.tenants import parse_shard as parse

    if not value:
        return ""
    k, n = parse(value)
    return f"{k}/{n}"


DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Report what would happen; change and send nothing.")
]


def is_tty() -> bool:
    return sys.stdin.isatty()
