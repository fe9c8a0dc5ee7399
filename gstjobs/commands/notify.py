"""``gstjobs notify send|list|retry``: run delivery by hand, inspect and re-queue the outbox.

``notify send`` is the deliver job's run started by an operator (trigger ``manual``):
the same lock, ledger row, audit row and Standard Response as ``gstjobs run deliver``.
Everything here shows ids, channels, templates and counts only: never a recipient's
name, email address or phone number.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from sqlalchemy import text

from gstjobs import jobs, render, runner
from gstjobs.clock import iso_z
from gstjobs.commands.common import (
    DryRunOption,
    JsonOption,
    TenantOption,
    parse_tenants,
    show,
    state,
)
from gstjobs.config import Settings
from gstjobs.errors import UsageError
from gstjobs.notify import files, outbox
from gstjobs.notify import state as channels
from gstjobs.runner import require_schema
from gstjobs.tenants import load as load_tenants

group = typer.Typer(
    help="The notification outbox: send what is due, list the queue, re-queue failures.",
    no_args_is_help=True,
)

STATUS_STYLE = {"pending": "yellow", "sent": "green", "failed": "bold red"}
STATE_STYLE = {"ok": "green", "paused": "yellow", "down": "bold red"}
CHANNELS = ("email", "whatsapp", "console")


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="notify")


@group.command("send")
def send(
    ctx: typer.Context,
    tenant: TenantOption = None,
    dry_run: DryRunOption = False,
    json_: JsonOption = False,
) -> None:
    """Deliver what is due now: the deliver job's run, started by hand (trigger manual)."""
    app_state = state(ctx, json_)
    wanted = parse_tenants(tenant)
    request = runner.RunRequest(tenants=wanted, dry_run=dry_run, trigger="manual")
    outcome = runner.execute(jobs.find("deliver"), app_state.settings, app_state.db, request)
    count = len(wanted)
    if not count:
        with app_state.connection("notify send") as conn:
            count = len(load_tenants(conn, ()))
    show(
        app_state,
        lambda: render.run_json(outcome) | {"tenants": count},
        lambda: render.run_table(outcome, app_state.settings.tz),
    )
    if outcome.status == "failed":
        sys.stderr.write(f"gstjobs: {outcome.job} failed: {outcome.error}\n")
    raise typer.Exit(outcome.exit_code)


@group.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option(help="Only notifications in this state: " + ", ".join(outbox.STATUSES)),
    ] = None,
    tenant: TenantOption = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many rows.")] = 50,
    json_: JsonOption = False,
) -> None:
    """The outbox, newest first, and the state of each channel (ok, paused until, down)."""
    app_state = state(ctx, json_)
    if status is not None and status not in outbox.STATUSES:
        raise UsageError(f"--status {status!r} is not one of {', '.join(outbox.STATUSES)}.")
    wanted = list(parse_tenants(tenant)) or None
    with app_state.connection("notify list") as conn:
        require_schema(conn)
        queue = outbox.list_queue(conn, status=status, tenants=wanted, limit=limit)
        now = conn.execute(text("SELECT now()")).scalar_one()
        known = {s.channel: s for s in channels.states(conn, now)}
        folder = str(files.database_folder(conn, app_state.settings))
    lines = [_channel(c, known.get(c), app_state.settings, folder) for c in CHANNELS]
    tz = app_state.settings.tz
    show(
        app_state,
        lambda: _queue_json(queue) | {"channels": _channels_json(lines), "outboxDir": folder},
        lambda: Group(_channels_table(lines, tz), _queue_table(queue, tz)),
    )


@group.command("retry")
def retry(
    ctx: typer.Context,
    id_: Annotated[
        list[int] | None,
        typer.Option("--id", metavar="N", help="Only this notification (repeatable)."),
    ] = None,
    failed: Annotated[
        bool, typer.Option("--failed", help="Also re-queue notifications that have failed.")
    ] = False,
    channel: Annotated[
        str | None, typer.Option(help="Only this channel: " + ", ".join(CHANNELS))
    ] = None,
    tenant: TenantOption = None,
    json_: JsonOption = False,
) -> None:
    """Re-queue backing-off (and with --failed, failed) notifications for the next delivery."""
    app_state = state(ctx, json_)
    if channel is not None and channel not in CHANNELS:
        raise UsageError(f"--channel {channel!r} is not one of {', '.join(CHANNELS)}.")
    ids = list(dict.fromkeys(id_ or [])) or None
    wanted = list(parse_tenants(tenant)) or None
    with app_state.connection("notify retry", autocommit=False) as conn:
        require_schema(conn)
        if wanted:
            load_tenants(conn, wanted)  # UsageError for an unknown tenant
        missing = outbox.unknown(conn, ids) if ids else []
        if missing:
            raise UsageError(f"no notification with id {missing[0]}; see gstjobs notify list.")
        done = outbox.retry(conn, ids=ids, failed=failed, channel=channel, tenants=wanted)
        conn.commit()
    label = app_state.db.label
    show(
        app_state,
        lambda: {
            "database": label,
            "requeued": len(done.ids),
            "fromFailed": done.from_failed,
            "fromBackoff": done.from_backoff,
            "ids": list(done.ids),
        },
        lambda: Text(
            f"re-queued {len(done.ids)} notification(s) for the next delivery "
            f"({done.from_failed} failed, {done.from_backoff} backing off) in {label}"
        ),
    )


def _channel(name: str, known: Any, settings: Settings, folder: str) -> dict[str, Any]:
    """One channel as ``notify list`` shows it: its transport and what delivery knows."""
    if name == "email" and settings.smtp is not None:
        transport = f"SMTP {settings.smtp.host}:{settings.smtp.port}"
    elif name == "whatsapp" and settings.whatsapp is not None:
        transport = "WhatsApp Cloud API"
    else:
        transport = f"files in {folder}"
    state_ = known.state if known else "ok"
    return {
        "channel": name,
        "transport": transport,
        "state": state_,
        "pausedUntil": known.paused_until if state_ == "paused" else None,
        "reason": known.reason if state_ != "ok" else None,
        "since": known.since if known else None,
        "checkedAt": known.checked_at if known else None,
    }


def _channels_json(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: iso_z(v) if isinstance(v, datetime) else v for k, v in c.items()} for c in lines]


def _channels_table(lines: list[dict[str, Any]], tz: ZoneInfo) -> RenderableType:
    table = Table(title="channels", title_justify="left")
    for col in ("channel", "transport", "state", "since"):
        table.add_column(col, no_wrap=col != "transport")
    table.add_column("reason", overflow="fold", ratio=1)
    for line in lines:
        shown = line["state"]
        if line["pausedUntil"]:
            shown += f" until {_local(line['pausedUntil'], tz)}"
        table.add_row(
            line["channel"],
            line["transport"],
            Text(shown, style=STATE_STYLE.get(line["state"], "")),
            _local(line["since"], tz) if line["since"] and line["state"] != "ok" else "—",
            line["reason"] or "",
        )
    return table


def _local(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def _queue_json(queue: outbox.Queue) -> dict[str, Any]:
    return {
        "counts": queue.counts,
        "notifications": [
            {
                "id": r.id,
                "tenantId": str(r.tenant_id),
                "userId": str(r.user_id),
                "channel": r.channel,
                "template": r.template,
                "status": r.status,
                "attempts": r.attempts,
                "nextAttemptAt": iso_z(r.next_attempt_at) if r.status == "pending" else None,
                "lastError": r.last_error,
                "providerMessageId": r.provider_message_id,
                "createdAt": iso_z(r.created_at),
                "sentAt": iso_z(r.sent_at) if r.sent_at else None,
                "runId": r.run_id,
                "urgency": r.urgency,
            }
            for r in queue.rows
        ],
    }


def _queue_table(queue: outbox.Queue, tz: ZoneInfo) -> RenderableType:
    counts = ", ".join(f"{k} {v}" for k, v in queue.counts.items())
    table = Table(title=f"notifications — {counts}", title_justify="left")
    for col in ("id", "tenant", "channel", "template", "status", "attempts", "next attempt"):
        table.add_column(col, no_wrap=True)
    table.add_column("last error", overflow="fold", ratio=1)
    for r in queue.rows:
        nxt = _local(r.next_attempt_at, tz) if r.status == "pending" else "—"
        table.add_row(
            str(r.id),
            str(r.tenant_id),
            r.channel,
            r.template,
            Text(r.status, style=STATUS_STYLE.get(r.status, "")),
            str(r.attempts),
            nxt,
            r.last_error or "",
        )
    if not queue.rows:
        table.caption = "no notifications match"
    return table
