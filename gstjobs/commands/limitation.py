"""``gstjobs limitation list``: the register of statutory dates, soonest first; and
``gstjobs limitation missing``: the proceedings whose dates cannot be computed.

Read only: it shows what the last ``limitation-watch`` run computed, with days left
counted in each practice's time zone from now (or ``--as-of``). Ids, case numbers and
dates only, never a client's or a person's name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from gstjobs.commands.common import (
    AsOfOption,
    JsonOption,
    TenantOption,
    known_tenants,
    parse_as_of,
    parse_tenants,
    show,
    state,
)

if TYPE_CHECKING:
    from rich.console import RenderableType

    from gstjobs.limitation.findings import Missing
    from gstjobs.limitation.register import RegisterRow

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
    """Statutory dates still to act on, soonest first: days left, status, flags.

    What the last limitation-watch run computed, with days left counted in each
    practice's time zone.

    \b
    Examples:
      gstjobs limitation list
      gstjobs limitation list --days 30 --json
    """
    from sqlalchemy import text

    from gstjobs import render
    from gstjobs.limitation.register import list_dates
    from gstjobs.migrate import require_current

    app_state = state(ctx, json_)
    parse_tenants(tenant)  # a malformed id is a usage error before any connection
    moment = parse_as_of(as_of, app_state)
    with app_state.connection("limitation list") as conn:
        require_current(conn)
        tenants = known_tenants(conn, tenant)
        now = moment or conn.execute(text("SELECT now()")).scalar_one()
        rows = list_dates(conn, tenants, now, days=days)
    label = app_state.db.label
    show(
        app_state,
        lambda: {"database": label, "days": days, "dates": [r.as_json() for r in rows]},
        lambda: _table(rows, days, render.stdout.width),
    )


@group.command("missing")
def missing(
    ctx: typer.Context,
    tenant: TenantOption = None,
    json_: JsonOption = False,
) -> None:
    """Open proceedings whose statutory dates cannot be computed or rest on an
    assumption, and what to enter for each (health-report's DATA_MISSING).

    \b
    Examples:
      gstjobs limitation missing
      gstjobs limitation missing --tenant 3f2b8c1e --json
    """
    from gstjobs import render
    from gstjobs.limitation.findings import data_missing
    from gstjobs.migrate import require_current

    app_state = state(ctx, json_)
    parse_tenants(tenant)
    with app_state.connection("limitation missing") as conn:
        require_current(conn)
        rows = data_missing(conn, known_tenants(conn, tenant))
    label = app_state.db.label
    show(
        app_state,
        lambda: {"database": label, "proceedings": [r.as_json() for r in rows]},
        lambda: _missing_table(rows, render.stdout.width),
    )


def _missing_table(rows: list[Missing], width: int) -> RenderableType:
    from gstjobs import tables

    cols = (
        tables.Col("matter"),
        tables.Col("proceeding"),
        tables.Col("reference", keep=2),
        tables.Col("practice", keep=3),
        tables.Col("enter", free_text=True),
    )
    body: list[list[tables.Cell]] = [
        [
            r.case_number,
            r.kind.replace("_", "-"),
            r.reference_no or "",
            str(r.tenant_id)[:8],
            "; ".join(r.items),
        ]
        for r in rows
    ]
    title = (
        f"Open proceedings whose statutory dates are missing or assumed ({len(rows):,}): "
        "enter these in the litigation system"
    )
    return tables.fitted(cols, body, width, title=title)


def _flags(row: RegisterRow) -> str:
    flags = [note.split(":")[0] for note in row.notes]
    if row.confidence in ("uncertain", "contested"):
        flags.append(row.confidence)
    if row.falls_on_holiday:
        flags.append("holiday")
    return ", ".join(dict.fromkeys(flags))


def _table(rows: list[RegisterRow], days: int, width: int) -> RenderableType:
    from rich.text import Text

    from gstjobs import tables
    from gstjobs.limitation import dates

    cols = (
        tables.Col("due"),
        tables.Col("days", justify="right"),
        tables.Col("status"),
        tables.Col("FY", keep=4),
        tables.Col("proceeding", keep=5),
        tables.Col("outer", keep=3),
        tables.Col("amount", keep=6, justify="right"),
        tables.Col("flags", keep=2),  # on a holiday, assumed, the practice's default
        # What to do and for which matter, in one column that folds rather than goes:
        # a date without either is no use to a partner, at any width.
        tables.Col("what · matter", free_text=True),
    )
    body: list[list[tables.Cell]] = [
        [
            dates.show(r.due_date),
            f"{r.days_left:,}",
            Text(r.status, style=STATUS_STYLE.get(r.status, "")),
            "" if r.fy == "*" else r.fy,
            r.proceeding.replace("_", "-"),
            dates.show(r.outer_date) if r.outer_date else "",
            f"{r.amount:,.0f}" if r.amount else "",
            _flags(r),
            f"{r.title} · {r.case_number}",
        ]
        for r in rows
    ]
    title = (
        f"Statutory dates due in the next {days} days, "
        f"or passed and still to deal with ({len(rows):,})"
    )
    return tables.fitted(cols, body, width, title=title)
