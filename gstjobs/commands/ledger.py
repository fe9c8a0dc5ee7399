"""``gstjobs status`` and ``gstjobs history``: what ran, how it went, what is due."""

from __future__ import annotations

from typing import Annotated

import typer

from gstjobs import jobs
from gstjobs.commands.common import JsonOption, show, state
from gstjobs.core import RUN_STATUSES
from gstjobs.errors import UsageError


def register(app: typer.Typer) -> None:
    app.command("status")(status)
    app.command("history")(history)


def status(ctx: typer.Context, json_: JsonOption = False) -> None:
    """One row per job: last run, outcome, next due, late?

    With duration, 7-day runs, failures and success rate.

    \b
    Example:
      gstjobs status --json
    """
    from sqlalchemy import text

    from gstjobs import ledger, render, slots
    from gstjobs.migrate import require_current

    app_state = state(ctx, json_)
    tz = app_state.settings.tz
    with app_state.connection("status") as conn:
        require_current(conn)
        now = conn.execute(text("SELECT now()")).scalar_one()
        rows = slots.annotate(conn, ledger.status(conn, now, tz, jobs.JOBS), jobs.JOBS, tz, now)
    label = app_state.db.label
    show(
        app_state,
        lambda: render.status_json(rows, label, now),
        lambda: render.status_table(rows, label, tz),
    )


def history(
    ctx: typer.Context,
    job: Annotated[str | None, typer.Option(help="Only this job (CLI or canonical name).")] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", help="Only runs with this outcome: " + ", ".join(RUN_STATUSES)),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Only runs started since: 30m, 24h, 7d, 2w or an ISO 8601 moment."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many runs.")] = 20,
    show_slots: Annotated[
        bool,
        typer.Option(
            "--slots",
            help="The scheduled slots instead of the runs: ran, late, skipped, missed, "
            "caught up, paused.",
        ),
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Past runs, newest first.

    \b
    Examples:
      gstjobs history --since 24h
      gstjobs history --job sla-check --status failed --limit 5
      gstjobs history --slots --since 7d
    """
    from sqlalchemy import text

    from gstjobs import ledger, render, slots
    from gstjobs.clock import parse_since
    from gstjobs.migrate import require_current

    app_state = state(ctx, json_)
    tz = app_state.settings.tz
    job_name = jobs.find(job).name if job else None
    if status is not None and status not in RUN_STATUSES:
        raise UsageError(f"--status must be one of {', '.join(RUN_STATUSES)}, got {status!r}.")
    with app_state.connection("history") as conn:
        require_current(conn)
        now = conn.execute(text("SELECT now()")).scalar_one()
        since_at = parse_since(since, tz, now) if since else None
        if show_slots:
            seen = slots.recent(
                conn, job=job_name, since=since_at or now - slots.LOOKBACK, now=now, limit=limit
            )
        else:
            rows = ledger.history(conn, job=job_name, status=status, since=since_at, limit=limit)
    if show_slots:
        show(app_state, lambda: render.slots_json(seen), lambda: render.slots_table(seen, tz))
        return
    show(app_state, lambda: render.history_json(rows), lambda: render.history_table(rows, tz))
