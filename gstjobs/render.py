"""Rich and JSON views of results: the only place that formats for people.

Each view is a pair: ``*_json`` builds the dict that ``--json`` prints, and
``*_table`` builds the Rich renderable from the same result, so they never disagree.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from gstjobs.clock import iso_z, seconds_text
from gstjobs.jobs import JOBS
from gstjobs.ledger import JobStatus, RunRow
from gstjobs.migrate import MigrationState
from gstjobs.runner import RunOutcome

STATUS_STYLE = {
    "success": "green",
    "failed": "bold red",
    "skipped": "yellow",
    "running": "cyan",
    "abandoned": "red",
    None: "dim",
}


def _console(*, stderr: bool) -> Console:
    # Under cron or a pipe there is no terminal width to read: use a wide page
    # (COLUMNS wins) rather than Rich's 80 columns, which squeezes the tables.
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else int(os.environ.get("COLUMNS") or 160)
    return Console(stderr=stderr, highlight=False, width=width)


stdout = _console(stderr=False)
stderr = _console(stderr=True)


def print_json(document: Any) -> None:
    """Exactly one JSON document on stdout."""
    sys.stdout.write(json.dumps(document, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _when(moment: datetime | None, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z") if moment else "—"


def _status(value: str | None) -> Text:
    return Text(value or "never", style=STATUS_STYLE.get(value, ""))


# ---------------------------------------------------------------- gstjobs run
def run_json(outcome: RunOutcome) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "success": outcome.status != "failed",
        "job": outcome.job,
        "executedAt": iso_z(outcome.started_at),
    }
    if outcome.status == "failed":
        doc["error"] = outcome.error
        doc["errorDetails"] = outcome.error_details
        doc["results"] = outcome.results
    else:
        doc["results"] = outcome.results  # a skipped run's keys are all zero
        if outcome.status == "skipped":
            doc["message"] = outcome.error
    doc |= {
        "executionTime": seconds_text(outcome.duration_s),
        "runId": outcome.run_id,
        "status": outcome.status,
        "database": outcome.database,
        "asOf": iso_z(outcome.as_of) if outcome.as_of else None,
        "dryRun": outcome.dry_run,
    }
    return doc


def run_table(outcome: RunOutcome, tz: ZoneInfo) -> RenderableType:
    title = Text.assemble(
        (outcome.job, "bold"),
        "  ",
        _status(outcome.status),
        (f"  run #{outcome.run_id}", "dim"),
        ("  (dry run: nothing was changed or sent)" if outcome.dry_run else "", "yellow"),
    )
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="dim")
    table.add_column()
    table.add_row("database", outcome.database)
    table.add_row("as of", _when(outcome.as_of, tz))
    table.add_row("took", seconds_text(outcome.duration_s))
    # A skipped run did nothing: its zeroed keys (kept in JSON for the contract) would
    # read as results here.
    shown = {} if outcome.status == "skipped" else outcome.results
    for key, value in shown.items():
        if isinstance(value, list | dict):
            value = json.dumps(value, default=str) if value else "—"
        table.add_row(key, str(value))
    if outcome.error:
        table.add_row(
            "error" if outcome.status == "failed" else "note",
            Text(outcome.error, style="red" if outcome.status == "failed" else ""),
        )
    return Group(title, table)


# ---------------------------------------------------------------- gstjobs status
def status_json(rows: Sequence[JobStatus], database: str, now: datetime) -> dict[str, Any]:
    return {
        "database": database,
        "now": iso_z(now),
        "jobs": [
            {
                "job": r.job,
                "cliName": r.cli_name,
                "schedule": r.schedule,
                "lastRunId": r.last_run_id,
                "lastStatus": r.last_status,
                "lastStartedAt": iso_z(r.last_started) if r.last_started else None,
                "lastDurationSeconds": r.last_duration_s,
                "lastError": r.last_error,
                "runs7d": r.runs_7d,
                "failures7d": r.failures_7d,
                "skipped7d": r.skipped_7d,
                "successRate7d": r.success_rate_7d,
                "nextDueAt": iso_z(r.next_due),
                "late": r.late,
                "overTime": r.over_time,
                "maxSeconds": r.max_seconds,
                "runningForSeconds": r.running_for_s,
            }
            for r in rows
        ],
    }


def status_table(rows: Sequence[JobStatus], database: str, tz: ZoneInfo) -> RenderableType:
    table = Table()
    for col in (
        "job",
        "schedule",
        "last run",
        "outcome",
        "took",
        "runs 7d",
        "failed 7d",
        "success 7d",
        "next due",
        "late?",
    ):
        table.add_column(col, no_wrap=col in ("job", "last run", "next due"))
    for r in rows:
        rate = f"{r.success_rate_7d:.0%}" if r.success_rate_7d is not None else "—"
        took = seconds_text(r.last_duration_s) if r.last_duration_s is not None else "—"
        if r.running_for_s is not None:
            took = f"{seconds_text(r.running_for_s)} so far (max {r.max_seconds:g}s)"
        table.add_row(
            r.cli_name,
            r.schedule,
            _when(r.last_started, tz),
            _status(r.last_status),
            Text(took, style="red" if r.over_time else ""),
            str(r.runs_7d),
            Text(str(r.failures_7d), style="red" if r.failures_7d else ""),
            rate,
            _when(r.next_due, tz),
            Text("LATE", style="bold red") if r.late else Text("no"),
        )
    return Group(Text(f"gstjobs status of {database}"), table)


# ---------------------------------------------------------------- gstjobs history
def history_json(rows: Sequence[RunRow]) -> dict[str, Any]:
    return {
        "runs": [
            {
                "runId": r.id,
                "job": r.job,
                "status": r.status,
                "trigger": r.trigger,
                "host": r.host,
                "pid": r.pid,
                "startedAt": iso_z(r.started_at),
                "finishedAt": iso_z(r.finished_at) if r.finished_at else None,
                "durationSeconds": r.duration_s,
                "asOf": iso_z(r.as_of) if r.as_of else None,
                "dryRun": r.dry_run,
                "asOfForced": r.as_of_forced,
                "results": r.results,
                "error": r.error,
            }
            for r in rows
        ]
    }


def _headline(job: str, results: dict[str, Any]) -> str:
    """The job's contract keys, in contract order; lists shown by their length."""
    keys = next((s.result_keys for s in JOBS if s.name == job), tuple(results))
    shown = []
    for key in keys:
        value = results.get(key)
        if isinstance(value, list):
            value = len(value)
        if value is not None:
            shown.append(f"{key}={value}")
    return ", ".join(shown)


def history_table(rows: Sequence[RunRow], tz: ZoneInfo) -> RenderableType:
    table = Table()
    for col in ("run", "job", "started", "outcome", "took", "trigger", "host"):
        table.add_column(col, no_wrap=True)
    table.add_column("results / error", overflow="fold", ratio=1)
    for r in rows:
        summary = r.error or _headline(r.job, r.results or {})
        table.add_row(
            str(r.id),
            r.job,
            _when(r.started_at, tz),
            _status(r.status),
            seconds_text(r.duration_s) if r.duration_s is not None else "—",
            r.trigger
            + (" (dry run)" if r.dry_run else "")
            + (" (forced)" if r.as_of_forced else ""),
            r.host,
            summary,
        )
    if not rows:
        table.caption = "no runs match"
    return table


# ---------------------------------------------------------------- gstjobs db
def migrations_json(states: Sequence[MigrationState], database: str) -> dict[str, Any]:
    return {
        "database": database,
        "migrations": [
            {
                "version": s.migration.version,
                "name": s.migration.name,
                "appliedAt": iso_z(s.applied_at) if s.applied_at else None,
                "changedSinceApplied": s.changed,
            }
            for s in states
        ],
        "pending": [s.migration.version for s in states if s.applied_at is None],
    }


def migrations_table(
    states: Sequence[MigrationState], database: str, tz: ZoneInfo
) -> RenderableType:
    table = Table()
    for col in ("version", "name", "applied"):
        table.add_column(col)
    for s in states:
        applied = _when(s.applied_at, tz) if s.applied_at else Text("pending", style="yellow")
        if s.changed:
            applied = Text(f"{applied} (file changed since)", style="red")
        table.add_row(s.migration.version, s.migration.name, applied)
    return Group(Text(f"migrations of {database}"), table)
