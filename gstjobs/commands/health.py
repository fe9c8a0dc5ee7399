"""``gstjobs health-report``: a monitoring check (Nagios, Icinga, Zabbix).

Exit codes: 0 OK (INFO only), 1 WARNING, 2 CRITICAL, 3 UNKNOWN. UNKNOWN is this
command's own answer to an unreachable database or a missing schema, so it is
handled here rather than by the error boundary (which would exit 69 or 78).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from gstjobs import jobs, render
from gstjobs.commands.common import AsOfOption, JsonOption, parse_as_of, show, state
from gstjobs.errors import ConfigError, DatabaseUnavailable, GstjobsError, first_line
from gstjobs.health import report as health
from gstjobs.health.views import report_json, report_view
from gstjobs.migrate import require_current


def register(app: typer.Typer) -> None:
    app.command("health-report")(health_report)


def health_report(
    ctx: typer.Context,
    hours: Annotated[
        int,
        typer.Option(
            "--hours", min=1, max=24 * 90, help="Window of the automation metrics, in hours."
        ),
    ] = 24,
    as_of: AsOfOption = None,
    json_: JsonOption = False,
) -> None:
    """Automation-rule and job health with CRITICAL/WARNING/INFO findings; exit 0/1/2/3."""
    app_state = state(ctx, json_)
    moment = parse_as_of(as_of, app_state)
    try:
        with app_state.connection("health-report") as conn:
            require_current(conn)
            now = moment or conn.execute(text("SELECT now()")).scalar_one()
            result = health.report(
                conn,
                now=now,
                hours=hours,
                tz=app_state.settings.tz,
                database=app_state.db.label,
                specs=jobs.JOBS,
            )
    except (DatabaseUnavailable, ConfigError, DBAPIError) as exc:
        message = exc.message if isinstance(exc, GstjobsError) else first_line(exc)
        sys.stderr.write(f"gstjobs: {message}\n")
        if app_state.json:
            render.print_json({"status": "UNKNOWN", "exitCode": 3, "error": message})
        else:
            render.stdout.print(f"GSTJOBS UNKNOWN - {message}", markup=False)
        raise typer.Exit(health.EXIT_CODES["UNKNOWN"]) from None
    show(app_state, lambda: report_json(result), lambda: report_view(result))
    raise typer.Exit(result.exit_code)
