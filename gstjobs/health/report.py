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

    def findings(self) -> list[Finding]:
        found = self.automation.findings() + self.system.findings() + self.delivery.findings()
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

    def status_line(self) -> str:
        """Nagios-style first line, with performance data after the bar."""
        c = self.counts()
        a = self.automation
        rate = a.metrics()["success_rate"]
        return (
            f"GSTJOBS {self.status} - {c['CRITICAL']} critical, {c['WARNING']} warning, "
            f"{c['INFO']} info | automation_success_rate={rate}%;95:;80:;0;100 "
            f"automation_executions={a.total};;;0 "
            f"stale_notifications={self.system.stale_notifications};;0;0"
        )


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
    )
