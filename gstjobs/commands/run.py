"""``gstjobs run JOB``: one single-shot run of a job through the runner."""

from __future__ import annotations

import sys
import textwrap
from typing import Annotated

import typer

from gstjobs import jobs, progress
from gstjobs.commands.common import (
    AsOfOption,
    DryRunOption,
    JsonOption,
    ShardOption,
    TenantOption,
    is_tty,
    parse_as_of,
    parse_shard,
    show,
    state,
    tenant_ids,
)
from gstjobs.errors import UsageError

TRIGGERS = ("auto", "scheduled", "manual")


def register(app: typer.Typer) -> None:
    app.command("run", epilog=_jobs_epilog())(run)


def _jobs_epilog() -> str:
    """The jobs, their schedules and what each does, from the registry."""
    width = max(len(s.cli_name) for s in jobs.JOBS)
    lines = []
    for s in jobs.JOBS:
        head = f"  {s.cli_name:<{width}}  {s.schedule:<12}  "
        lines.extend(
            textwrap.wrap(s.summary, 78, initial_indent=head, subsequent_indent=" " * len(head))
        )
    return (
        "\b\nJobs (schedules in GSTJOBS_TIMEZONE, default Asia/Kolkata):\n"
        + "\n".join(lines)
        + "\n\n\b\nExamples:\n"
        "  gstjobs run sla-check\n"
        "  gstjobs run hearing-reminders --dry-run --as-of 2026-12-01T08:00\n"
        "  gstjobs run deadline-alerts --tenant 3f2b8c1e-5d4a-4c7b-9e1f-2a6d8b0c4e7f --json"
    )


def run(
    ctx: typer.Context,
    job: Annotated[
        str,
        typer.Argument(metavar="JOB", show_default=False, hidden=True),
    ],
    tenant: TenantOption = None,
    as_of: AsOfOption = None,
    dry_run: DryRunOption = False,
    trigger: Annotated[
        str,
        typer.Option(
            metavar="auto|scheduled|manual",
            help="Recorded in history; auto: manual from a terminal, else scheduled.",
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
    shard: ShardOption = None,
    slot: Annotated[
        str | None,
        typer.Option(
            "--slot",
            hidden=True,
            help="The scheduled slot this run serves (run-due names it).",
        ),
    ] = None,
    json_: JsonOption = False,
) -> None:
    """Run one job now: lock, record, work, summarise.

    JOB is one of the jobs below, by its name or its canonical name
    (check-sla-and-overdue). Exit 0 (done, or skipped: another run holds the
    lock), 1 failed, 2 usage, 69 database unreachable, 78 configuration. Silent on
    success under cron or in a pipe unless -v (a dry run always prints its summary).
    """
    from gstjobs import render, runner
    from gstjobs.clock import parse_moment

    app_state = state(ctx, json_)
    spec = jobs.find(job)
    if trigger not in TRIGGERS:
        raise UsageError(f"--trigger must be one of {', '.join(TRIGGERS)}, got {trigger!r}.")
    request = runner.RunRequest(
        tenants=tenant_ids(app_state, tenant),
        as_of=parse_as_of(as_of, app_state),
        dry_run=dry_run,
        force=force,
        trigger=trigger if trigger != "auto" else ("manual" if is_tty() else "scheduled"),
        shard=parse_shard(shard),
        slot=parse_moment(slot, app_state.settings.tz, option="--slot") if slot else None,
    )
    with progress.shown(not (app_state.json or app_state.quiet)) as shown:
        outcome = runner.execute(spec, app_state.settings, app_state.db, request, shown)
    show(
        app_state,
        lambda: render.run_json(outcome),
        lambda: render.run_table(outcome, app_state.settings.tz),
        report=not dry_run,
    )
    if outcome.status == "failed":
        sys.stderr.write(f"gstjobs: {spec.cli_name} failed: {outcome.error}\n")
    raise typer.Exit(outcome.exit_code)
