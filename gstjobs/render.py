"""Rich and JSON views of results: the only place that formats for people.

Each view is a pair: ``*_json`` builds the dict that ``--json`` prints, and
``*_table`` builds the Rich renderable from the same result, so they never disagree.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from gstjobs import tables
from gstjobs.clock import iso_z, seconds_text
from gstjobs.jobs import JOBS
from gstjobs.ledger import JobStatus, RunRow
from gstjobs.migrate import MigrationState
from gstjobs.runner import RunOutcome
from gstjobs.slots import SlotRow

STATUS_STYLE = {
    "success": "green",
    "failed": "bold red",
    "skipped": "yellow",
    "running": "cyan",
    "abandoned": "red",
    None: "dim",
}


stdout = tables.console()
stderr = tables.console(stderr=True)


def print_json(document: Any) -> None:
    """Exactly one JSON document on stdout."""
    sys.stdout.write(json.dumps(document, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _when(moment: datetime | None, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z") if moment else "—"


def _number(value: Any) -> str:
    """A result in a table: thousands separators for counts, lists by their length."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:,.3g}"


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
        (cli_name(outcome.job), "bold"),
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
        table.add_row(key, _number(value))
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
                "paused": r.paused is not None,
                "pausedReason": r.paused,
                "lastSlot": iso_z(r.last_slot) if r.last_slot else None,
                "lastSlotState": r.last_slot_state,
                "missedSlots7d": r.missed_7d,
                "shards": [{"shard": s, "lastStatus": o} for s, o in r.shards],
            }
            for r in rows
        ],
    }


def status_table(rows: Sequence[JobStatus], database: str, tz: ZoneInfo) -> RenderableType:
    width = stdout.width
    # One-line headers and dates with the year when every column fits so; else headers
    # on two lines and dates without the year, which fit more (at 80 columns the missed
    # slots still show), so a wider terminal never shows fewer columns.
    table = _status_layout(rows, tz, width, compact=False)
    if table.caption:
        table = _status_layout(rows, tz, width, compact=True)
    return Group(Text(f"gstjobs status of {database}"), table)


def _status_layout(rows: Sequence[JobStatus], tz: ZoneInfo, width: int, *, compact: bool) -> Table:
    z = tables.zone(tz)
    n = "\n" if compact else " "
    stamps = tables.NARROW - 1 if compact else tables.PIPE_WIDTH
    cols = (
        tables.Col("job"),
        tables.Col("outcome"),
        tables.Col(f"last run{n}({z})", keep=2),
        tables.Col("took", keep=4, justify="right"),
        tables.Col("late?"),
        tables.Col(f"next due{n}({z})", keep=3),
        tables.Col(f"missed{n}7d", keep=4, justify="right"),
        tables.Col(f"success{n}7d", keep=5, justify="right"),
        tables.Col(f"failed{n}7d", keep=6, justify="right"),
        tables.Col(f"runs{n}7d", keep=7, justify="right"),
        tables.Col("schedule", keep=8),
    )
    body: list[list[tables.Cell]] = []
    for r in rows:
        took = seconds_text(r.last_duration_s) if r.last_duration_s is not None else "—"
        if r.running_for_s is not None:
            took = f"{seconds_text(r.running_for_s)} so far, max {r.max_seconds:g}s"
        body.append(
            [
                r.cli_name,
                _status(r.last_status),
                tables.when(r.last_started, tz, stamps),
                Text(took, style="red" if r.over_time else ""),
                _late(r),
                tables.when(r.next_due, tz, stamps),
                Text(tables.count(r.missed_7d), style="red" if r.missed_7d else ""),
                tables.rate(r.success_rate_7d),
                Text(tables.count(r.failures_7d), style="red" if r.failures_7d else ""),
                tables.count(r.runs_7d),
                r.schedule,
            ]
        )
    return tables.fitted(cols, body, width)


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


def _late(r: JobStatus) -> Text:
    if r.paused is not None:
        return Text("paused", style="yellow")
    return Text("LATE", style="bold red") if r.late else Text("no")


def slots_json(rows: Sequence[SlotRow]) -> dict[str, Any]:
    return {
        "slots": [
            {
                "job": r.job,
                "shard": r.shard or None,
                "scheduledAt": iso_z(r.scheduled_at),
                "state": r.state,
                "runId": r.run_id,
            }
            for r in rows
        ]
    }


SLOT_STYLE = {
    "ran": "green",
    "late": "yellow",
    "skipped": "yellow",
    "missed": "bold red",
    "caught_up": "cyan",
    "paused": "dim",
}


def slots_table(rows: Sequence[SlotRow], tz: ZoneInfo) -> RenderableType:
    cols = (
        tables.Col(f"slot ({tables.zone(tz)})"),
        tables.Col("job"),
        tables.Col("state"),
        tables.Col("run", keep=1, justify="right"),
        tables.Col("shard", keep=2),
    )
    body: list[list[tables.Cell]] = [
        [
            tables.when(r.scheduled_at, tz, stdout.width),
            cli_name(r.job),
            Text(r.state.replace("_", " "), style=SLOT_STYLE.get(r.state, "")),
            str(r.run_id) if r.run_id else "—",
            r.shard or "—",
        ]
        for r in rows
    ]
    table = tables.fitted(cols, body, stdout.width)
    if not rows:
        tables.note(table, "no slots recorded in this window")
    return table


def history_table(rows: Sequence[RunRow], tz: ZoneInfo) -> RenderableType:
    cols = (
        tables.Col("run", justify="right"),
        tables.Col("job"),
        tables.Col(f"started ({tables.zone(tz)})", keep=2),
        tables.Col("outcome"),
        tables.Col("took", keep=3, justify="right"),
        tables.Col("trigger", keep=5),
        tables.Col("host", keep=6),
        tables.Col("results / error", keep=1, free_text=True),
    )
    body: list[list[tables.Cell]] = [
        [
            str(r.id),
            cli_name(r.job),
            tables.when(r.started_at, tz, stdout.width),
            _status(r.status),
            seconds_text(r.duration_s) if r.duration_s is not None else "—",
            r.trigger
            + (" (dry run)" if r.dry_run else "")
            + (" (forced)" if r.as_of_forced else ""),
            r.host,
            r.error or _headline(r.job, r.results or {}),
        ]
        for r in rows
    ]
    table = tables.fitted(cols, body, stdout.width)
    if not rows:
        tables.note(table, "no runs match")
    return table


def cli_name(job: str) -> str:
    """A job as people know it (sla-check), from its canonical name."""
    return next((s.cli_name for s in JOBS if s.name == job), job)


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
