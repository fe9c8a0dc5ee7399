"""``gstjobs rules list`` and ``gstjobs rules validate FILE``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gstjobs.commands.common import (
    JsonOption,
    TenantOption,
    known_tenants,
    parse_tenants,
    show,
    state,
)
from gstjobs.errors import UsageError

if TYPE_CHECKING:
    from rich.table import Table

    from gstjobs.automation.store import RuleRow

app = typer.Typer(help="List the automation rules and check rule files.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="rules")


@app.command("list")
def list_(ctx: typer.Context, tenant: TenantOption = None, json_: JsonOption = False) -> None:
    """Every automation rule: valid?, last run, 24-hour executions.

    \b
    Example:
      gstjobs rules list --tenant 3f2b8c1e-5d4a-4c7b-9e1f-2a6d8b0c4e7f
    """
    from gstjobs.automation.store import list_rules
    from gstjobs.migrate import require_current

    app_state = state(ctx, json_)
    parse_tenants(tenant)  # a malformed id is a usage error before any connection
    with app_state.connection("rules list") as conn:
        require_current(conn)
        rows = list_rules(conn, known_tenants(conn, tenant))
    show(app_state, lambda: {"rules": [_row_json(r) for r in rows]}, lambda: _table(rows))


@app.command("validate")
def validate(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(help="A JSON file: one rule object, or an array of rules.")
    ],
    json_: JsonOption = False,
) -> None:
    """Check a rule file before it goes into automation_rules.

    Prints "valid", or exits 2 with one line naming the bad field.

    \b
    Example:
      gstjobs rules validate escalate-overdue-scn.json
    """
    from gstjobs.automation.rules import parse_rules_text

    app_state = state(ctx, json_)
    try:
        source = file.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}") from None
    drafts = parse_rules_text(source, str(file))  # RuleError: one line, exit 2 (cli.main)
    show(
        app_state,
        lambda: {"valid": True, "file": str(file), "rules": len(drafts)},
        lambda: "valid" if len(drafts) == 1 else f"valid ({len(drafts)} rules)",
    )


def _row_json(r: RuleRow) -> dict[str, Any]:
    return {
        "id": str(r.id),
        "tenantId": str(r.tenant_id),
        "name": r.name,
        "triggerEvent": r.trigger_event,
        "isActive": r.is_active,
        "conditions": r.conditions,
        "actions": r.actions,
        "valid": r.problem is None,
        "problem": r.problem,
        "executions24h": r.executions_24h,
        "failures24h": r.failures_24h,
        "lastExecutedAt": r.last_executed_at.isoformat() if r.last_executed_at else None,
    }


def _table(rows: list[RuleRow]) -> Table:
    from rich.text import Text

    from gstjobs import render, tables

    cols = (
        tables.Col("rule"),
        tables.Col("practice", keep=3),
        tables.Col("trigger", keep=2),
        tables.Col("active", keep=4),
        tables.Col("valid"),
        tables.Col("runs 24h", keep=5, justify="right"),
        tables.Col("failed 24h", keep=1, justify="right"),
        tables.Col("name / problem", free_text=True),
    )
    body: list[list[tables.Cell]] = [
        [
            str(r.id)[:8],
            str(r.tenant_id)[:8],
            r.trigger_event,
            "yes" if r.is_active else Text("no", style="dim"),
            Text("yes", style="green") if r.problem is None else Text("NO", style="bold red"),
            tables.count(r.executions_24h),
            Text(tables.count(r.failures_24h), style="red" if r.failures_24h else ""),
            r.name if r.problem is None else Text(f"{r.name}: {r.problem}", style="red"),
        ]
        for r in rows
    ]
    table = tables.fitted(cols, body, render.stdout.width, title="automation rules")
    if not rows:
        tables.note(table, "no rules")
    return table
