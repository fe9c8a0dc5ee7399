"""Automation rule health: the seed's ``HealthMetrics`` and its alert levels.

Thresholds (seed, *5. Automation Health Check*), all strict:

- a rule is *degraded* when more than 20% of its executions in the window failed;
- CRITICAL when any rule's success rate in the window is below 80%;
- WARNING when an active rule has not executed for more than 48 hours; a rule
  younger than that counts from its ``created_at``, so a new rule is not inactive;
- INFO when the overall success rate in the window is below 95%.

Rates are percentages (0–100, two decimals); with no executions the success rate is
100 (nothing failed). Levels compare exact counts (``failed * 5 > total``), never
rounded floats, so 20.0% is not degraded and 20.01% is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, text

LEVELS = ("OK", "INFO", "WARNING", "CRITICAL")
INACTIVE_HOURS = 48
DEGRADED_FAILURE_PCT = 20
CRITICAL_SUCCESS_PCT = 80
INFO_SUCCESS_PCT = 95

RULE_STATS = text(
    """
    WITH active AS (
        SELECT r.id, r.tenant_id, r.name, r.created_at
        FROM automation_rules r
        WHERE r.is_active AND r.tenant_id = ANY(:tenants)
    ), windowed AS (
        SELECT l.tenant_id, l.rule_id, max(l.rule_name) AS rule_name, count(*) AS total,
               count(*) FILTER (WHERE l.status = 'success') AS succeeded,
               count(*) FILTER (WHERE l.status = 'failed') AS failed
        FROM automation_logs l
        WHERE l.tenant_id = ANY(:tenants) AND l.executed_at > :since AND l.executed_at <= :now
        GROUP BY l.tenant_id, l.rule_id
    )
    SELECT coalesce(a.tenant_id, w.tenant_id) AS tenant_id,
           coalesce(a.id, w.rule_id) AS rule_id,
           coalesce(a.name, w.rule_name) AS rule_name,
           a.id IS NOT NULL AS active, a.created_at,
           coalesce(w.total, 0) AS total, coalesce(w.succeeded, 0) AS succeeded,
           coalesce(w.failed, 0) AS failed,
           (SELECT max(l.executed_at) FROM automation_logs l
            WHERE l.rule_id = a.id AND l.tenant_id = a.tenant_id
              AND l.executed_at <= :now) AS last_executed_at
    FROM active a
    FULL JOIN windowed w ON w.rule_id = a.id AND w.tenant_id = a.tenant_id
    ORDER BY 1, 3, 2
    """
)


@dataclass(frozen=True)
class Finding:
    level: str
    subject: str
    message: str
    tenant_id: UUID | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "subject": self.subject,
            "message": self.message,
            "tenant_id": str(self.tenant_id) if self.tenant_id else None,
        }


def worst(levels: Iterable[str]) -> str:
    return max(levels, key=LEVELS.index, default="OK")


def pct(part: int, whole: int) -> float:
    return round(100 * part / whole, 2) if whole else 100.0


@dataclass(frozen=True)
class RuleHealth:
    tenant_id: UUID
    rule_id: UUID | None
    rule_name: str | None
    active: bool
    created_at: datetime | None
    total: int
    succeeded: int
    failed: int
    last_executed_at: datetime | None

    @property
    def degraded(self) -> bool:
        return self.total > 0 and self.failed * 100 > DEGRADED_FAILURE_PCT * self.total

    @property
    def critical(self) -> bool:
        return self.total > 0 and self.succeeded * 100 < CRITICAL_SUCCESS_PCT * self.total

    def idle_since(self) -> datetime | None:
        return self.last_executed_at or self.created_at

    def inactive(self, now: datetime) -> bool:
        since = self.idle_since()
        return self.active and since is not None and since < now - timedelta(hours=INACTIVE_HOURS)


@dataclass(frozen=True)
class AutomationHealth:
    """The health of a set of rules (one tenant's, or every tenant's) over a window."""

    rules: tuple[RuleHealth, ...]
    now: datetime
    window_hours: int

    def only(self, tenant_id: UUID) -> AutomationHealth:
        mine = tuple(r for r in self.rules if r.tenant_id == tenant_id)
        return AutomationHealth(mine, self.now, self.window_hours)

    @property
    def total(self) -> int:
        return sum(r.total for r in self.rules)

    @property
    def succeeded(self) -> int:
        return sum(r.succeeded for r in self.rules)

    @property
    def failed(self) -> int:
        return sum(r.failed for r in self.rules)

    def inactive(self) -> list[RuleHealth]:
        return [r for r in self.rules if r.inactive(self.now)]

    def findings(self) -> list[Finding]:
        out: list[Finding] = []
        h = self.window_hours
        for r in self.rules:
            subject = f"rule {r.rule_id}"
            name = repr(r.rule_name or "(deleted rule)")
            if r.critical or r.degraded:
                out.append(
                    Finding(
                        "CRITICAL" if r.critical else "WARNING",
                        subject,
                        f"rule {name} failed {r.failed} of {r.total} executions in the last "
                        f"{h} h: success rate {pct(r.succeeded, r.total)}% "
                        f"(degraded over {DEGRADED_FAILURE_PCT}% failures, critical below "
                        f"{CRITICAL_SUCCESS_PCT}% success)",
                        r.tenant_id,
                    )
                )
            if r.inactive(self.now):
                since = r.idle_since()
                assert since is not None
                idle = int((self.now - since).total_seconds() // 3600)
                what = "has not executed" if r.last_executed_at else "has never executed"
                out.append(
                    Finding(
                        "WARNING",
                        subject,
                        f"rule {name} {what} for {idle} h (over {INACTIVE_HOURS} h)",
                        r.tenant_id,
                    )
                )
        if self.total and self.succeeded * 100 < INFO_SUCCESS_PCT * self.total:
            out.append(
                Finding(
                    "INFO",
                    "automation",
                    f"automation success rate {pct(self.succeeded, self.total)}% "
                    f"({self.succeeded} of {self.total}) in the last {h} h is below "
                    f"{INFO_SUCCESS_PCT}%",
                )
            )
        return out

    @property
    def level(self) -> str:
        return worst(f.level for f in self.findings())

    def metrics(self) -> dict[str, Any]:
        """The seed's HealthMetrics (plus ``level`` and the details behind the lists)."""
        inactive = self.inactive()
        return {
            "total_executions": self.total,
            "successful_executions": self.succeeded,
            "failed_executions": self.failed,
            "success_rate": pct(self.succeeded, self.total),
            "inactive_rules": [str(r.rule_id) for r in inactive],
            "degraded_rules": [
                {
                    "rule_id": str(r.rule_id) if r.rule_id else None,
                    "rule_name": r.rule_name,
                    "failure_rate": pct(r.failed, r.total),
                    "executions": r.total,
                }
                for r in self.rules
                if r.degraded
            ],
            "critical_rules": [str(r.rule_id) for r in self.rules if r.critical],
            "inactive_rule_details": [
                {
                    "rule_id": str(r.rule_id),
                    "rule_name": r.rule_name,
                    "last_executed_at": r.last_executed_at.isoformat()
                    if r.last_executed_at
                    else None,
                }
                for r in inactive
            ],
            "level": self.level,
            "window_hours": self.window_hours,
        }


def automation_health(
    conn: Connection, tenants: Sequence[UUID], now: datetime, window_hours: int
) -> AutomationHealth:
    rows = conn.execute(
        RULE_STATS,
        {"tenants": list(tenants), "now": now, "since": now - timedelta(hours=window_hours)},
    )
    rules = tuple(
        RuleHealth(
            r.tenant_id,
            r.rule_id,
            r.rule_name,
            r.active,
            r.created_at,
            r.total,
            r.succeeded,
            r.failed,
            r.last_executed_at,
        )
        for r in rows
    )
    return AutomationHealth(rules, now, window_hours)


def merge_metrics(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Combine per-tenant HealthMetrics: counts add, lists join, rates and level recomputed."""
    merged: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, list):
                merged.setdefault(key, []).extend(value)
            elif isinstance(value, int) and not isinstance(value, bool) and key != "window_hours":
                merged[key] = merged.get(key, 0) + value
            else:
                merged.setdefault(key, value)
    total = merged.get("total_executions", 0)
    succeeded = merged.get("successful_executions", 0)
    merged["success_rate"] = pct(succeeded, total)
    levels = ["OK"]
    if merged.get("critical_rules"):
        levels.append("CRITICAL")
    if merged.get("inactive_rules") or merged.get("degraded_rules"):
        levels.append("WARNING")
    if total and succeeded * 100 < INFO_SUCCESS_PCT * total:
        levels.append("INFO")
    merged["level"] = worst(levels)
    return merged
