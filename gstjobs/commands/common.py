"""What every command shares: the app state, option aliases, and output."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import typer
from rich.console import RenderableType
from sqlalchemy import Connection, Engine

from gstjobs import render, tenants
from gstjobs.clock import check_in_range, parse_moment
from gstjobs.config import Settings
from gstjobs.db import Database, connect, make_engine, resolve
from gstjobs.errors import UsageError


@dataclass
class AppState:
    settings: Settings
    json: bool = False
    quiet: bool = False
    verbose: bool = False
    _db: Database | None = field(default=None, repr=False)

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = resolve(self.settings)
        return self._db

    @contextmanager
    def engine(self, purpose: str) -> Iterator[Engine]:
        engine = make_engine(self.db, self.settings, purpose=purpose)
        try:
            yield engine
        finally:
            engine.dispose()

    @contextmanager
    def connection(self, purpose: str, *, autocommit: bool = True) -> Iterator[Connection]:
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
    app_state: AppState, document: Callable[[], Any], view: Callable[[], RenderableType]
) -> None:
    """Print the JSON document (``--json``) or the Rich view (unless ``-q``)."""
    if app_state.json:
        render.print_json(document())
    elif not app_state.quiet:
        render.stdout.print(view())


def parse_tenants(values: list[str] | None) -> tuple[UUID, ...]:
    out = []
    for value in values or []:
        try:
            out.append(UUID(value))
        except ValueError:
            raise UsageError(
                f"--tenant {value!r} is not a UUID; use e.g. 3f2b8c1e-5d4a-4c7b-9e1f-2a6d8b0c4e7f."
            ) from None
    return tuple(dict.fromkeys(out))


def parse_as_of(value: str | None, app_state: AppState) -> datetime | None:
    return check_in_range(parse_moment(value, app_state.settings.tz)) if value else None


def known_tenants(conn: Connection, values: list[str] | None) -> list[UUID]:
    """The --tenant values as ids of practices that exist; UsageError (exit 2) otherwise."""
    wanted = parse_tenants(values)
    if wanted:
        tenants.load(conn, wanted)  # raises for an id no practice has
    return list(wanted)


JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON document on stdout instead of tables.")
]
TenantOption = Annotated[
    list[str] | None,
    typer.Option("--tenant", metavar="UUID", help="Only this tenant (repeatable)."),
]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        metavar="TIMESTAMP",
        help="Run as if the clock showed this ISO 8601 moment (no offset: GSTJOBS_TIMEZONE).",
    ),
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Report what would happen; change and send nothing.")
]


def is_tty() -> bool:
    return sys.stdin.isatty()
