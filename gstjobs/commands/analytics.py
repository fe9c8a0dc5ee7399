"""``gstjobs analytics``: the trend view, and ``gstjobs analytics backfill``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from gstjobs import progress
from gstjobs.commands.common import (
    DryRunOption,
    JsonOption,
    TenantOption,
    known_tenants,
    parse_tenants,
    show,
    state,
)

group = typer.Typer(
    invoke_without_command=True,
    help="Daily analytics snapshots: the trend view, and backfilling missed days.",
)


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="analytics")


@group.callback()
def trends(
    ctx: typer.Context,
    tenant: TenantOption = None,
    days: Annotated[
        int, typer.Option("--days", min=1, max=366, help="Show the last N local days.")
    ] = 14,
    json_: JsonOption = False,
) -> None:
    """Each practice's daily metrics: sparkline, first, last, min, max.

    Anomalies (over 30% from the 7-day average) are marked.

    \b
    Examples:
      gstjobs analytics
      gstjobs analytics --days 30 --tenant 3f2b8c1e-5d4a-4c7b-9e1f-2a6d8b0c4e7f
    """
    from gstjobs import render
    from gstjobs.analytics import trend, view
    from gstjobs.migrate import require_current

    if ctx.invoked_subcommand is not None:
        return
    app_state = state(ctx, json_)
    parse_tenants(tenant)  # a malformed id is a usage error before any connection
    with app_state.connection("analytics", autocommit=False) as conn:
        conn.execute(trend.READ_ONLY)
        require_current(conn)
        found = trend.load(conn, known_tenants(conn, tenant), days)
        conn.rollback()
    label = app_state.db.label
    show(
        app_state,
        lambda: view.trend_json(found, label, days),
        lambda: view.trend_table(found, label, days, render.stdout.width),
    )


@group.command("backfill")
def backfill(
    ctx: typer.Context,
    from_: Annotated[str, typer.Option("--from", metavar="DATE", help="First date (YYYY-MM-DD).")],
    to: Annotated[str, typer.Option("--to", metavar="DATE", help="Last date (YYYY-MM-DD).")],
    tenant: TenantOption = None,
    dry_run: DryRunOption = False,
    json_: JsonOption = False,
) -> None:
    """Snapshots of past dates, each as it stood at 23:59 local.

    One recorded run of analytics-snapshot, under its lock; it writes only snapshots.

    \b
    Example:
      gstjobs analytics backfill --from 2026-11-01 --to 2026-11-28
    """
    from sqlalchemy import text

    from gstjobs import render, runner
    from gstjobs.analytics import backfill as backfilling
    from gstjobs.jobs import analytics_snapshot
    from gstjobs.migrate import require_current

    app_state = state(ctx, json_)
    first = backfilling.parse_date(from_, "--from")
    last = backfilling.parse_date(to, "--to")
    backfilling.check_range(first, last)
    parse_tenants(tenant)  # a malformed id is a usage error before any connection
    with app_state.connection("analytics-backfill") as conn:
        require_current(conn)
        tenants = tuple(known_tenants(conn, tenant))
        now = conn.execute(text("SELECT now()")).scalar_one()
    backfilling.check_past(last, now.astimezone(app_state.settings.tz).date())
    with progress.shown(not (app_state.json or app_state.quiet)) as shown:
        outcome = runner.execute(
            analytics_snapshot.spec_for(first, last),
            app_state.settings,
            app_state.db,
            runner.RunRequest(tenants=tenants, dry_run=dry_run, trigger="manual"),
            shown,
        )
    show(
        app_state,
        lambda: render.run_json(outcome),
        lambda: render.run_table(outcome, app_state.settings.tz),
        report=not dry_run,
    )
    if outcome.status == "failed" and not app_state.json:
        sys.stderr.write(f"gstjobs: {outcome.job} backfill failed: {outcome.error}\n")
    raise typer.Exit(outcome.exit_code)
