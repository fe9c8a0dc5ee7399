"""Reading the rules for ``gstjobs rules list``: each with its validity and recent runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, text

from gstjobs.automation.rules import decode, validate_actions, validate_conditions
from gstjobs.errors import RuleError

LIST_RULES = text(
    """
    SELECT r.id, r.tenant_id, r.name, r.trigger_event,
           CAST(r.conditions AS text) AS conditions, CAST(r.actions AS text) AS actions,
           r.is_active,
           coalesce(s.total, 0) AS executions_24h, coalesce(s.failed, 0) AS failures_24h,
           (SELECT max(l.executed_at) FROM automation_logs l
            WHERE l.rule_id = r.id AND l.tenant_id = r.tenant_id) AS last_executed_at
    FROM automation_rules r
    LEFT JOIN (
        SELECT rule_id, tenant_id, count(*) AS total,
               count(*) FILTER (WHERE status = 'failed') AS failed
        FROM automation_logs
        WHERE executed_at > now() - interval '24 hours'
        GROUP BY rule_id, tenant_id
    ) s ON s.rule_id = r.id AND s.tenant_id = r.tenant_id
    WHERE cardinality(CAST(:tenants AS uuid[])) = 0 OR r.tenant_id = ANY(:tenants)
    ORDER BY r.tenant_id, r.trigger_event, r.name, r.id
    """
)


@dataclass(frozen=True)
class RuleRow:
    id: UUID
    tenant_id: UUID
    name: str
    trigger_event: str
    conditions: Any
    actions: Any
    is_active: bool
    problem: str | None
    executions_24h: int
    failures_24h: int
    last_executed_at: datetime | None


def problem_of(conditions: str, actions: str, trigger_event: str) -> str | None:
    """The validator's message for a stored rule (its JSON as text), or None when it can run."""
    try:
        validate_conditions(decode(conditions, "conditions"), trigger_event=trigger_event)
        validate_actions(decode(actions, "actions"), trigger_event)
    except RuleError as exc:
        return exc.message
    return None


def _shown(source: str) -> Any:
    """A rule's JSON for display: decoded, or the first characters when it cannot be."""
    try:
        return decode(source, "rule")
    except RuleError:
        return source[:80] + ("…" if len(source) > 80 else "")


def list_rules(conn: Connection, tenants: Sequence[UUID]) -> list[RuleRow]:
    return [
        RuleRow(
            r.id,
            r.tenant_id,
            r.name,
            r.trigger_event,
            _shown(r.conditions),
            _shown(r.actions),
            r.is_active,
            problem_of(r.conditions, r.actions, r.trigger_event),
            r.executions_24h,
            r.failures_24h,
            r.last_executed_at,
        )
        for r in conn.execute(LIST_RULES, {"tenants": list(tenants)})
    ]
