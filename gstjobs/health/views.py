"""Rich and JSON views of a health report: built from the same HealthReport."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from gstjobs.clock import iso_z
from gstjobs.health.report import HealthReport

LEVEL_STYLE = {"CRITICAL": "bold red", "WARNING": "yellow", "INFO": "cyan", "OK": "green"}


def report_json(r: HealthReport) -> dict[str, Any]:
    auto = r.automation
    return {
        "status": r.status,
        "exitCode": r.exit_code,
        "summary": r.summary(),
        "perfdata": r.perfdata(),
        "now": iso_z(r.now),
        "database": r.database,
        "counts": r.counts(),
        "findings": [f.as_json() for f in r.findings()],
        "automation": auto.metrics()
        | {
            "tenants": [
                {"tenant_id": str(t), **_tenant_summary(auto.only(t).metrics())}
                for t in sorted({x.tenant_id for x in auto.rules})
            ]
        },
        "jobs": [
            {
                "job": j.job,
                "cliName": j.cli_name,
                "lastStatus": j.last_status,
                "lastStartedAt": iso_z(j.last_started) if j.last_started else None,
                "lastDurationSeconds": j.last_duration_s,
                "expectedSeconds": list(j.expected_seconds),
                "failureStreak": j.failure_streak,
                "runs7d": j.runs_7d,
                "successRate7d": j.success_rate_7d,
                "errorRate7d": j.error_rate_7d,
                "late": j.late,
            }
            for j in r.system.jobs
        ],
        "runs24h": r.system.runs_24h,
        "outbox": {
            "stalePending": r.system.stale_notifications,
            "oldestPendingAt": iso_z(r.system.oldest_pending) if r.system.oldest_pending else None,
        },
    }


def _tenant_summary(m: dict[str, Any]) -> dict[str, Any]:
    keys = ("level", "total_executions", "failed_executions", "success_rate")
    return {k: m[k] for k in keys}


def long_output(r: HealthReport) -> RenderableType:
    """What follows the status line: one line per finding. Nothing in it holds a '|',
    which a monitor would read as more performance data."""
    found = r.findings()
    if not found:
        return Text(f"no findings ({r.database}, as of {iso_z(r.now)})".replace("|", "/"))
    lines = []
    for f in found:
        text = Text(f"{f.level:<8} ", style=LEVEL_STYLE[f.level])
        text.append(f"{f.subject}: {f.message}".replace("|", "/"))
        lines.append(text)
    lines.append(Text(f"({r.database}, as of {iso_z(r.now)})".replace("|", "/"), style="dim"))
    return Group(*lines)
