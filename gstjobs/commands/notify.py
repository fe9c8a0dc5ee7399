"""``gstjobs notify send`` and ``gstjobs notify list``: drain and inspect the outbox.

Both show ids, channels, templates and counts only: never a recipient's name, email
address or phone number.
"""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from gstjobs.clock import iso_z
from gstjobs.commands.common import (
    JsonOption,
    TenantOption,
    known_tenants,
    parse_tenants,
    show,
    state,
    tenant_ids,
)
from gstjobs.errors import UsageError
from gstjobs.migrate import require_current
from gstjobs.notify import outbox
from gstjobs.notify.delivery import DeliveryReport, drain, outbox_dir
from gstjobs.tenants import load as load_tenants

group = typer.Typer(
    help="The notification outbox: send what is pending, list the queue.",
    no_args_is_help=True,
)

STATUS_STYLE = {"pending": "yellow", "sent": "green", "failed": "bold red"}


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="notify")


@group.command("send")
def send(ctx: typer.Context, tenant: TenantOption = None, json_: JsonOption = False) -> None:
    """Deliver pending notifications that are due (per-tenant cap, retries with backoff)."""
    app_state = state(ctx, json_)
    wanted = tenant_ids(app_state, tenant)
    settings = app_state.settings
    with app_state.engine("notify send") as engine:
        with engine.connect() as conn:
            require_current(conn)
            tenants = load_tenants(conn, wanted).ids
        report = drain(engine, settings, tenants)
    transport = _transport(settings.smtp is not None, str(outbox_dir(settings)))
    label = app_state.db.label
    show(
        app_state,
        lambda: {"database": label, "tenants": len(tenants), "results": report.results()},
        lambda: _send_view(report, label, transport),
    )


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
    """The outbox, newest first: ids, channel, template, status, attempts, next attempt, error."""
    app_state = state(ctx, json_)
    if status is not None and status not in outbox.STATUSES:
        raise UsageError(f"--status {status!r} is not one of {', '.join(outbox.STATUSES)}.")
    parse_tenants(tenant)  # a malformed id is a usage error before any connection
    with app_state.connection("notify list") as conn:
        require_current(conn)
        wanted = known_tenants(conn, tenant) or None
        queue = outbox.list_queue(conn, status=status, tenants=wanted, limit=limit)
    tz = app_state.settings.tz
    show(app_state, lambda: _queue_json(queue), lambda: _queue_table(queue, tz))


def _transport(smtp: bool, directory: str) -> str:
    return "SMTP" if smtp else f"files in {directory} (SMTP_HOST is not set)"


def _send_view(report: DeliveryReport, database: str, transport: str) -> RenderableType:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="dim")
    table.add_column()
    table.add_row("database", database)
    table.add_row("email via", transport)
    for key, value in report.results().items():
        style = "red" if key == "notificationsFailed" and value else ""
        table.add_row(key, Text(str(value), style=style))
    return Group(Text("notify send", style="bold"), table)


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
        nxt = (
            r.next_attempt_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")
            if r.status == "pending"
            else "—"
        )
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
