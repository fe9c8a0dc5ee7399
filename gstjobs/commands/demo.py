"""``gstjobs demo``: migrate, then load the demo data set."""

from __future__ import annotations

from typing import Annotated

import typer

from gstjobs import progress
from gstjobs.clock import iso_z
from gstjobs.commands.common import AsOfOption, JsonOption, parse_as_of, show, state
from gstjobs.errors import UsageError


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    ctx: typer.Context,
    tenants: Annotated[int, typer.Option(min=1, max=100000, help="Practices to create.")] = 3,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same data.")] = 7,
    tasks_per_tenant: Annotated[
        int,
        typer.Option(
            min=1, max=100000, help="Tasks per practice (1000 x 1000 tenants = 1M tasks)."
        ),
    ] = 60,
    reset: Annotated[
        bool,
        typer.Option(
            "--reset",
            help="Delete every demo practice, whatever seed or size made it (and what jobs "
            "wrote for them) first.",
        ),
    ] = False,
    as_of: AsOfOption = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Load even into a database that holds practices the demo did not create.",
        ),
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Load a realistic GST litigation data set.

    Migrates first. The same seed and --as-of give the same rows; --as-of from
    2024-07-01 to 2027-09-30, the law the demo writes. Refuses a database that holds
    practices the demo did not create, unless --force.

    \b
    Examples:
      gstjobs demo
      gstjobs demo --reset --tenants 100 --tasks-per-tenant 1000
    """
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text
    from sqlalchemy import text

    from gstjobs import demo as demo_data
    from gstjobs import migrate

    app_state = state(ctx, json_)
    given_anchor = parse_as_of(as_of, app_state)  # bad input stops before any write
    if given_anchor is not None:
        from gstjobs.demo.calendar import check_anchor

        check_anchor(given_anchor)
    with app_state.engine("demo") as engine:
        with engine.connect() as conn:
            foreign = demo_data.foreign_practices(conn)
        if foreign and not force:
            raise UsageError(
                f"{app_state.db.label} holds {foreign} practice(s) the demo did not create: "
                "it looks like a real database. Unset DATABASE_URL to use the embedded "
                "server, or pass --force if you mean it."
            )
        with progress.shown(not (app_state.json or app_state.quiet)) as shown:
            migrate.upgrade(engine, shown)
            with engine.begin() as conn:
                anchor = given_anchor or conn.execute(text("SELECT now()")).scalar_one()
                summary = demo_data.load(
                    conn,
                    tenants=tenants,
                    seed=seed,
                    tasks_per_tenant=tasks_per_tenant,
                    anchor=anchor,
                    reset=reset,
                    progress=shown,
                )
    label = app_state.db.label
    counts = {
        "tenants": summary.tenants,
        "users": summary.users,
        "clients": summary.clients,
        "cases": summary.cases,
        "hearings": summary.hearings,
        "proceedings": summary.proceedings,
        "proceedingEvents": summary.proceeding_events,
        "tasks": summary.tasks,
        "documents": summary.documents,
        "automationRules": summary.rules,
    }

    def view() -> Group:
        table = Table()
        table.add_column("table")
        table.add_column("rows", justify="right")
        for key, value in counts.items():
            table.add_row(key, f"{value:,}")
        header = f"demo data loaded into {label} (seed {seed}, anchored at {iso_z(anchor)})"
        return Group(Text(header), table)

    show(
        app_state,
        lambda: {"database": label, "seed": seed, "anchor": iso_z(anchor), **counts},
        view,
    )
