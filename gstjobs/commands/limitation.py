"""``gstjobs limitation list``: the register of statutory dates, soonest first.

Read only: it shows what the last ``limitation-watch`` run computed, with days left
counted in each practice's time zone from now (or ``--as-of``). Ids, case numbers and
dates only, never a client's or a person's name.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import RenderableType
from rich.table import Table
from sqlalchemy import text

from gstjobs.commands.common import (
    AsOfOption,
    JsonOption,
    TenantOption,
    parse_as_of,
    parse_tenants,
    show,
    state,
)
from gstjobs.limitation import dates
from gstjobs.limitation.register import RegisterRow, list_dates
from gstjobs.runner import require_schema
from gstjobs.tenants import load as load_tenants

group = typer.Typer(help="Statutory dates (limitation): the register.", no_args_is_help=True)

STATUS_STYLE = {"open": "", "lapsed": "bold red", "defence_found": "bold green"}


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="limitation")


@group.command("list")
def list_(
    ctx: typer.Context,
    days: Annotated[
        int, typer.Option("--days", min=0, max=3660, help="Dates due within this many days.")
    ] = 90,
    tenant: TenantOption = None,
    as_of: AsOfOption = None,
    json_: JsonOption = False,
) -> None:
    """Statutory dates still to act on, soonest first: days left, status, flags."""
    app_state = state(ctx, json_)
    wanted = parse_tenants(tenant)
    moment = parse_as_of(as_of, app_state)
    with app_state.connection("limitation list") as conn:
        require_schema(conn)
        tenants = [t.id for t in load_tenants(conn, wanted)] if wanted else []
        now = moment or conn.execute(text("SELECT now()")).scalar_one()
        rows = list_dates(conn, tenants, now, days=days)
    label = app_state.db.label
    show(
        app_state,
        lambda: {"database": label, "days": days, "dates": [r.as_json() for r in rows]},
        lambda: _table(rows, days),
    )


def _flags(row: RegisterRow) -> str:
    flags = [note.split(":")[0] for note in row.notes]
    if row.confidence in ("uncertain", "contested"):
        flags.append(row.confidence)
    if row.falls_on_holiday:
        flags.append("holiday")
    return ", ".join(dict.fromkeys(flags))


def _table(rows: list[RegisterRow], days: int) -> RenderableType:
    table = Table(title=f"Statutory dates due within {days} days ({len(rows)})")
    for column in (
        "due",
        "days",
        "what",
        "FY",
        "case",
        "proceeding",
        "status",
        "outer",
        "amount",
        "flags",
    ):
        table.add_column(column, justify="right" if column in ("days", "amount") else "left")
    for r in rows:
        cells: list[Any] = [
            dates.show(r.due_date),
            str(r.days_left),
            r.title,
            "" if r.fy == "*" else r.fy,
            r.case_number,
            r.proceeding.replace("_", "-"),
            f"[{STATUS_STYLE.get(r.status, '')}]{r.status}[/]"
            if STATUS_STYLE.get(r.status)
            else r.status,
            dates.show(r.outer_date) if r.outer_date else "",
            f"{r.amount:,.0f}" if r.amount else "",
            _flags(r),
        ]
        table.add_row(*cells)
    return table
