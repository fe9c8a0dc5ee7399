"""``gstjobs notify send|list|retry``: run delivery by hand, inspect and re-queue the outbox.

``notify send`` is the deliver job's run started by an operator (trigger ``manual``):
the same lock, ledger row, audit row and Standard Response as ``gstjobs run deliver``.
Everything here shows ids, channels, templates and counts only: never a recipient's
name, email address or phone number.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import typer

from gstjobs import jobs, progress
from gstjobs.commands.common import (
    DryRunOption,
    JsonOption,
    TenantOption,
    known_tenants,
    parse_tenants,
    show,
    state,
    tenant_ids,
)
from gstjobs.errors import UsageError

if TYPE_CHECKING:
    from rich.console import RenderableType

    from gstjobs.config import Settings
    from gstjobs.notify.outbox import Queue

group = typer.Typer(
    help="The notification outbox: send what is due, list the queue, re-queue failures.",
    no_args_is_help=True,
)

STATUSES = ("pending", "sent", "failed")
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
    """Deliver what is due now: the deliver job's run, by hand.

    The same run as `gstjobs run deliver`, recorded with trigger manual.

    \b
    Example:
      gstjobs notify send --json
    """
    from gstjobs import render, runner
    from gstjobs.tenants import load as load_tenants

    app_state = state(ctx, json_)
    wanted = tenant_ids(app_state, tenant)
    request = runner.RunRequest(tenants=wanted, dry_run=dry_run, trigger="manual")
    spec = jobs.find("deliver")
    with progress.shown(not (app_state.json or app_state.quiet)) as shown:
        outcome = runner.execute(spec, app_state.settings, app_state.db, request, shown)
    count = len(wanted)
    if not count:
        with app_state.connection("notify send") as conn:
            count = len(load_tenants(conn, ()).usable)
    show(
        app_state,
        lambda: render.run_json(outcome) | {"tenants": count},
        lambda: render.run_table(outcome, app_state.settings.tz),
        report=not dry_run,
    )
    if outcome.status == "failed":
        sys.stderr.write(f"gstjobs: {spec.cli_name} failed: {outcome.error}\n")
    raise typer.Exit(outcome.exit_code)


@group.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option(help="Only notifications in this state: " + ", ".join(STATUSES)),
    ] = None,
    tenant: TenantOption = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many rows.")] = 50,
    json_: JsonOption = False,
) -> None:
    """The outbox, newest first, and each channel's state (ok, paused until, down).

    \b
    Examples:
      gstjobs notify list --status failed
      gstjobs notify list --json
    """
    from sqlalchemy import text

    from gstjobs import render
    from gstjobs.migrate import require_current
    from gstjobs.notify import files, outbox
    from gstjobs.notify import state as channels

    app_state = state(ctx, json_)
    if status is not None and status not in STATUSES:
        raise UsageError(f"--status {status!r} is not one of {', '.join(STATUSES)}.")
    parse_tenants(tenant)  # a malformed id is a usage error before any connection
    with app_state.connection("notify list") as conn:
        require_current(conn)
        wanted = known_tenants(conn, tenant) or None
        queue = outbox.list_queue(conn, status=status, tenants=wanted, limit=limit)
        now = conn.execute(text("SELECT now()")).scalar_one()
        known = {s.channel: s for s in channels.states(conn, now)}
        folder = str(files.database_folder(conn, app_state.settings))
    lines = [_channel(c, known.get(c), app_state.settings, folder) for c in CHANNELS]
    tz = app_state.settings.tz
    width = render.stdout.width

    def view() -> RenderableType:
        from rich.console import Group

        return Group(_channels_table(lines, tz, width), _queue_table(queue, tz, width))

    show(
        app_state,
        lambda: _queue_json(queue) | {"channels": _channels_json(lines), "outboxDir": folder},
        view,
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
    """Re-queue backing-off (and with --failed, failed) notifications.

    They go with the next delivery; each re-queue is recorded in audit_log.

    \b
    Example:
      gstjobs notify retry --failed --channel email
    """
    from gstjobs.migrate import require_current
    from gstjobs.notify import outbox

    app_state = state(ctx, json_)
    if channel is not None and channel not in CHANNELS:
        raise UsageError(f"--channel {channel!r} is not one of {', '.join(CHANNELS)}.")
    ids = list(dict.fromkeys(id_ or [])) or None
    parse_tenants(tenant)  # a malformed id is a usage error before any connection
    with app_state.connection("notify retry", autocommit=False) as conn:
        require_current(conn)
        wanted = known_tenants(conn, tenant) or None
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
        lambda: (
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
    from gstjobs.clock import iso_z

    return [{k: iso_z(v) if isinstance(v, datetime) else v for k, v in c.items()} for c in lines]


def _channels_table(lines: list[dict[str, Any]], tz: ZoneInfo, width: int) -> RenderableType:
    from rich.text import Text

    from gstjobs import tables

    cols = (
        tables.Col("channel"),
        tables.Col("state"),
        tables.Col(f"since ({tables.zone(tz)})", keep=3),
        tables.Col("transport", keep=2, free_text=True),
        tables.Col("reason", keep=1, free_text=True),
    )
    body: list[list[tables.Cell]] = []
    for line in lines:
        shown = line["state"]
        if line["pausedUntil"]:
            shown += f" until {tables.when(line['pausedUntil'], tz, width)}"
        since = line["since"] if line["state"] != "ok" else None
        body.append(
            [
                line["channel"],
                Text(shown, style=STATE_STYLE.get(line["state"], "")),
                tables.when(since, tz, width),
                line["transport"],
                line["reason"] or "",
            ]
        )
    return tables.fitted(cols, body, width, title="channels")


def _queue_json(queue: Queue) -> dict[str, Any]:
    from gstjobs.clock import iso_z

    return {
        "counts": queue.counts,
        "total": queue.total,
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


def _queue_table(queue: Queue, tz: ZoneInfo, width: int) -> RenderableType:
    from rich.text import Text

    from gstjobs import tables

    counts = ", ".join(f"{k} {v:,}" for k, v in queue.counts.items())
    # When a pending message goes next (08:00: the end of quiet hours) explains a
    # backlog; an error column with no error in it goes first.
    errors = any(r.last_error for r in queue.rows)
    cols = (
        tables.Col("id", justify="right"),
        tables.Col("practice", keep=5),
        tables.Col("channel", keep=3),
        tables.Col("template", keep=4),
        tables.Col("status"),
        tables.Col("tries", keep=6, justify="right"),
        tables.Col(f"next attempt ({tables.zone(tz)})", keep=1),
        tables.Col("last error", keep=2 if errors else 9, free_text=True),
    )
    body: list[list[tables.Cell]] = [
        [
            str(r.id),
            str(r.tenant_id)[:8],
            r.channel,
            r.template,
            Text(r.status, style=STATUS_STYLE.get(r.status, "")),
            str(r.attempts),
            tables.when(r.next_attempt_at if r.status == "pending" else None, tz, width),
            r.last_error or "",
        ]
        for r in queue.rows
    ]
    table = tables.fitted(cols, body, width, title=f"notifications — {counts}")
    if not queue.rows:
        tables.note(table, "no notifications match")
    elif len(queue.rows) < queue.total:
        tables.note(table, f"showing {len(queue.rows):,} of {queue.total:,}; --limit N for more")
    return table
