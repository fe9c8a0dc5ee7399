"""``gstjobs health-report``: automation rule health plus the health of the jobs.

Exit codes follow the monitoring-plugins convention (CONTRACT §2): 0 OK (INFO findings
only), 1 WARNING, 2 CRITICAL, 3 UNKNOWN (could not evaluate).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text

from gstjobs.core import JobSpec
from gstjobs.health import matters
from gstjobs.health.automation import AutomationHealth, Finding, automation_health, worst
from gstjobs.health.delivery import DeliveryHealth, delivery_health
from gstjobs.health.jobs import SystemHealth, system_health

EXIT_CODES = {"OK": 0, "INFO": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}

ALL_TENANTS = text("SELECT id FROM tenants ORDER BY id")


@dataclass(frozen=True)
class HealthReport:
    now: datetime
    database: str
    automation: AutomationHealth
    system: SystemHealth
    delivery: DeliveryHealth
    matters: tuple[Finding, ...] = ()
    """Hearings with no outcome recorded, proceedings whose dates cannot be computed."""

    def findings(self) -> list[Finding]:
        found = (
            self.automation.findings()
            + self.system.findings()
            + self.delivery.findings()
            + list(self.matters)
        )
        order = ("CRITICAL", "WARNING", "INFO")
        return sorted(found, key=lambda f: order.index(f.level))

    @property
    def status(self) -> str:
        """OK, WARNING or CRITICAL: INFO findings alone leave the status OK."""
        level = worst(f.level for f in self.findings())
        return "OK" if level == "INFO" else level

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def counts(self) -> dict[str, int]:
        found = self.findings()
        return {lvl: sum(f.level == lvl for f in found) for lvl in ("CRITICAL", "WARNING", "INFO")}

    def summary(self) -> str:
        c = self.counts()
        return (
            f"GSTJOBS {self.status} - {c['CRITICAL']} critical, {c['WARNING']} warning, "
            f"{c['INFO']} info"
        )

    def perfdata(self) -> list[str]:
        """Performance data (monitoring-plugins format: 'label'=value[UOM];warn;crit;min;max).

        Thresholds are the ones the findings use, so a graph's lines match the levels:
        a job's last duration warns above 1.5x and is critical above 2x the upper bound
        of its expected time; a stale outbox, a run over its maximum, a missed daily slot
        or a channel down is critical from one. The overall success rate has no
        threshold of its own (below 95% is only INFO; the levels come from each rule)."""
        s = self.system
        out = [
            _perf(
                "automation_success_rate",
                self.automation.metrics()["success_rate"],
                "%",
                low=0,
                high=100,
            ),
            _perf("automation_executions", self.automation.total, low=0),
            _perf("stale_notifications", s.stale_notifications, crit="0", low=0),
            _perf(
                "runs_over_max",
                sum(
                    j.running_for_s is not None and j.running_for_s > j.max_seconds for j in s.jobs
                ),
                crit="0",
                low=0,
            ),
            _perf("missed_daily_slots", sum(j.missed_daily_24h for j in s.jobs), crit="0", low=0),
            _perf("channels_down", self.delivery.channels_down, crit="0", low=0),
        ]
        for j in s.jobs:
            if j.last_duration_s is not None:
                upper = j.expected_seconds[1]
                out.append(
                    _perf(
                        f"{j.cli_name}_duration",
                        round(j.last_duration_s, 3),
                        "s",
                        warn=f"{1.5 * upper:g}",
                        crit=f"{2 * upper:g}",
                        low=0,
                    )
                )
        return out

    def status_line(self) -> str:
        """Nagios-style first line, with performance data after the bar."""
        return f"{self.summary()} | {' '.join(self.perfdata())}"


def _perf(
    label: str,
    value: float | int,
    unit: str = "",
    *,
    warn: str = "",
    crit: str = "",
    low: float | None = None,
    high: float | None = None,
) -> str:
    """One performance-data item; labels are quoted (they may hold dashes)."""
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    bounds = ";".join("" if v is None else f"{v:g}" for v in (low, high))
    return f"'{label}'={shown}{unit};{warn};{crit};{bounds}".rstrip(";")


def report(
    conn: Connection,
    *,
    now: datetime,
    hours: int,
    tz: ZoneInfo,
    database: str,
    specs: Sequence[JobSpec],
) -> HealthReport:
    """Evaluate everything at ``now`` (the database's clock, or ``--as-of``)."""
    tenants = list(conn.execute(ALL_TENANTS).scalars())
    return HealthReport(
        now=now,
        database=database,
        automation=automation_health(conn, tenants, now, hours),
        system=system_health(conn, now, tz, specs),
        delivery=delivery_health(conn, now, tz, specs),
        matters=tuple(matters.findings(conn, tenants, now)),
    )
