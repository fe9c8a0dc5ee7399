"""``gstjobs db upgrade``, ``gstjobs db status`` and ``gstjobs db stop``."""

from __future__ import annotations

from typing import Annotated

import typer

from gstjobs import progress
from gstjobs.commands.common import JsonOption, show, state
from gstjobs.errors import UsageError

app = typer.Typer(
    help="Apply and inspect the schema migrations; stop the embedded server.",
    no_args_is_help=True,
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="db")


@app.command()
def upgrade(ctx: typer.Context, json_: JsonOption = False) -> None:
    """Apply pending migrations.

    Idempotent, and safe to run from several hosts at once.

    \b
    Example:
      DATABASE_URL=postgresql://gstjobs@db/litigation gstjobs db upgrade
    """
    from gstjobs import migrate

    app_state = state(ctx, json_)
    with (
        app_state.engine("db upgrade") as engine,
        progress.shown(not (app_state.json or app_state.quiet)) as shown,
    ):
        applied = migrate.upgrade(engine, shown)
    label = app_state.db.label
    show(
        app_state,
        lambda: {"database": label, "applied": [m.version for m in applied]},
        lambda: (
            (
                f"applied {len(applied)} migration(s) to {label}: "
                + ", ".join(f"{m.version}_{m.name}" for m in applied)
            )
            if applied
            else f"{label} is up to date"
        ),
    )


@app.command("status")
def db_status(ctx: typer.Context, json_: JsonOption = False) -> None:
    """Applied and pending migrations, and the database in use.

    The database is named with its password masked.

    \b
    Example:
      gstjobs db status --json
    """
    from gstjobs import migrate, render

    app_state = state(ctx, json_)
    with app_state.connection("db status") as conn:
        states = migrate.state(conn)
    label = app_state.db.label
    show(
        app_state,
        lambda: render.migrations_json(states, label),
        lambda: render.migrations_table(states, label, app_state.settings.tz),
    )


@app.command("stop")
def stop(ctx: typer.Context, json_: JsonOption = False) -> None:
    """Stop the embedded PostgreSQL server.

    Its data stays in GSTJOBS_DATA_DIR/pgdata; the next command that needs it starts
    it again.

    \b
    Example:
      gstjobs db stop
    """
    from gstjobs.db import stop_embedded

    app_state = state(ctx, json_)
    if app_state.settings.database_url is not None:
        raise UsageError(
            "DATABASE_URL is set: gstjobs stops only its own embedded server; "
            "stop your PostgreSQL with its own tools."
        )
    pgdata = app_state.settings.data_dir / "pgdata"
    stopped = stop_embedded(pgdata)
    show(
        app_state,
        lambda: {"pgdata": str(pgdata), "stopped": stopped},
        lambda: (
            f"stopped the embedded PostgreSQL in {pgdata}"
            if stopped
            else f"the embedded PostgreSQL in {pgdata} is not running"
        ),
    )


@app.command("roles")
def roles(
    ctx: typer.Context,
    print_: Annotated[
        bool, typer.Option("--print", help="Print the GRANT statements (the only mode).")
    ] = True,
    job_role: Annotated[str, typer.Option("--job-role", help="Role the jobs run as.")] = (
        "gstjobs_job"
    ),
    monitor_role: Annotated[
        str, typer.Option("--monitor-role", help="Read-only role for monitoring.")
    ] = "gstjobs_monitor",
    json_: JsonOption = False,
) -> None:
    """The GRANTs for a job role and a read-only monitoring role.

    The schema's owner runs them (create the roles first, with LOGIN and a password);
    the owner also runs `gstjobs db upgrade`.

    \b
    Example:
      gstjobs db roles --print | psql -d litigation
    """
    from gstjobs import roles as privileges
    from gstjobs.migrate import require_current

    app_state = state(ctx, json_)
    with app_state.connection("db roles") as conn:
        require_current(conn)
        statements = privileges.grants(conn, job_role, monitor_role)
    show(
        app_state,
        lambda: {"statements": [s for s in statements if s and not s.startswith("--")]},
        lambda: "\n".join(statements),
    )
