"""``gstjobs health-report``: a monitoring check (Nagios, Icinga, Zabbix).

Exit codes: 0 OK (INFO only), 1 WARNING, 2 CRITICAL, 3 UNKNOWN. UNKNOWN (with a
``GSTJOBS UNKNOWN - reason`` line) is the error boundary's answer for this command
to anything that keeps it from evaluating.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from gstjobs import jobs
from gstjobs.commands.common import AsOfOption, JsonOption, parse_as_of, show, state


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
    """Monitoring check: rule and job health, CRITICAL/WARNING/INFO.

    Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (Nagios, Icinga, Zabbix).

    \b
    Examples:
      gstjobs health-report
      gstjobs health-report --hours 48 --json
    """
    from sqlalchemy import text

    from gstjobs import render
    from gstjobs.health import report as health
    from gstjobs.health.views import long_output, report_json
    from gstjobs.migrate import require_current

    app_state = state(ctx, json_)
    moment = parse_as_of(as_of, app_state)
    # Anything that keeps it from evaluating (database down, no schema, a bug) reaches
    # the error boundary, which answers UNKNOWN (3) for this command.
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
    if app_state.json:
        show(app_state, lambda: report_json(result), lambda: "")
    else:
        # The status line is one line whatever the terminal's width (a monitor reads the
        # state and the performance data from it); the findings follow. -q keeps the
        # status line: it is the check's answer.
        sys.stdout.write(result.status_line() + "\n")
        sys.stdout.flush()
        if not app_state.quiet:
            # One line per finding, never folded to the width: a monitor, a script or
            # cron mail reads a finding per line (a terminal wraps long lines itself).
            render.stdout.print(long_output(result), soft_wrap=True)
    raise typer.Exit(result.exit_code)
