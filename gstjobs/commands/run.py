"""``gstjobs run JOB``: one single-shot run of a job through the runner."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from gstjobs import jobs, render, runner
from gstjobs.commands.common import (
    AsOfOption,
    DryRunOption,
    JsonOption,
    TenantOption,
    is_tty,
    parse_as_of,
    parse_tenants,
    show,
    state,
)
from gstjobs.errors import UsageError

TRIGGERS = ("auto", "scheduled", "manual")


def register(app: typer.Typer) -> None:
    app.command("run")(run)


def run(
    ctx: typer.Context,
    job: Annotated[
        str,
        typer.Argument(
            help="Job to run: CLI name (sla-check) or canonical name.", show_default=False
        ),
    ],
    tenant: TenantOption = None,
    as_of: AsOfOption = None,
    dry_run: DryRunOption = False,
    trigger: Annotated[
        str,
        typer.Option(
            help="Recorded in the run history: scheduled, manual, or auto "
            "(manual when started from a terminal)."
        ),
    ] = "auto",
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="With --as-of far from now and no --dry-run: write anyway, as if it were "
            "then (recorded in history).",
        ),
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Run one job now: lock, record, work, summarise; exit 0, 1, 2, 69 or 78."""
    app_state = state(ctx, json_)
    spec = jobs.find(job)
    if trigger not in TRIGGERS:
        raise UsageError(f"--trigger must be one of {', '.join(TRIGGERS)}, got {trigger!r}.")
    request = runner.RunRequest(
        tenants=parse_tenants(tenant),
        as_of=parse_as_of(as_of, app_state),
        dry_run=dry_run,
        force=force,
        trigger=trigger if trigger != "auto" else ("manual" if is_tty() else "scheduled"),
    )
    outcome = runner.execute(spec, app_state.settings, app_state.db, request)
    show(
        app_state,
        lambda: render.run_json(outcome),
        lambda: render.run_table(outcome, app_state.settings.tz),
    )
    if outcome.status == "failed":
        sys.stderr.write(f"gstjobs: {outcome.job} failed: {outcome.error}\n")
    raise typer.Exit(outcome.exit_code)
