"""The rules engine: evaluates active automation rules for every pending event.

Called by the jobs that emit events (sla-check, deadline-alerts) inside their tenant
transaction. Each call loads the active rules of the run's tenants (one query) and
validates each in Python (``rules.py``); an invalid rule is never run, its executions
are logged ``failed`` with the validator's message. Then, batch by batch of at most
``BATCH_SIZE`` events (so memory and statement size stay bounded on a big backlog):

1. locks the next pending events of the run's tenants (``FOR UPDATE SKIP LOCKED``, so
   two jobs processing at once never take the same event);
2. matches events to rules in one join through ``gstjobs_rule_matches``;
3. runs the actions set-based, one statement per action type (escalate, create_task,
   notify) inside a savepoint; if that fails, again rule by rule and, within a
   failing rule, execution by execution, each in its own savepoint, so one bad rule
   (or one bad row) is logged ``failed`` and every other execution still acts;
4. writes one ``automation_logs`` row per execution and marks the events processed.

Every batch shares the caller's transaction: committed together, an event's actions
happen exactly once; rolled back (a killed run), nothing happened and the events are
still pending for the next run. A failed execution is not retried: the log and the
health check report it. Escalation raises a task's priority at most one step per run,
however the events of that task fall into batches and fallback groups (see
``actions.CREATE_ESCALATIONS``).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from gstjobs.automation import actions
from gstjobs.automation.rules import decode, validate_actions, validate_conditions
from gstjobs.core import JobContext
from gstjobs.db import is_connection_lost
from gstjobs.errors import RuleError, first_line

log = logging.getLogger(__name__)

BATCH_SIZE = 2000
"""Pending events taken per batch: bounds memory and the size of each statement."""

LOAD_RULES = text(
    """
    SELECT id, tenant_id, name, trigger_event,
           CAST(conditions AS text) AS conditions, CAST(actions AS text) AS actions
    FROM automation_rules
    WHERE tenant_id = ANY(:tenants) AND is_active
    ORDER BY tenant_id, created_at, id
    """
)

LOCK_PENDING = text(
    """
    SELECT id, tenant_id, event_type
    FROM automation_events
    WHERE tenant_id = ANY(:tenants) AND processed_at IS NULL
    ORDER BY id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
    """
)

MATCH = text(
    """
    SELECT e.id AS event_id, r.rule_id
    FROM automation_events e
    JOIN jsonb_to_recordset(CAST(:rules AS jsonb))
         AS r (rule_id uuid, tenant_id uuid, trigger_event text, conditions jsonb)
      ON r.tenant_id = e.tenant_id AND r.trigger_event = e.event_type
    WHERE e.id = ANY(CAST(:events AS bigint[]))
      AND gstjobs_rule_matches(r.conditions, e.payload)
    ORDER BY e.id
    """
)

WRITE_LOGS = text(
    """
    INSERT INTO automation_logs (tenant_id, rule_id, rule_name, trigger_event, status,
                                 actions_executed, error_message, executed_at, event_id, run_id)
    SELECT l.tenant_id, l.rule_id, l.rule_name, l.trigger_event, l.status, l.actions_executed,
           l.error_message, :as_of, l.event_id, :run_id
    FROM jsonb_to_recordset(CAST(:logs AS jsonb))
         AS l (tenant_id uuid, rule_id uuid, rule_name text, trigger_event text, status text,
               actions_executed jsonb, error_message text, event_id bigint)
    """
)

MARK_PROCESSED = text(
    "UPDATE automation_events SET processed_at = :as_of WHERE id = ANY(CAST(:events AS bigint[]))"
)


@dataclass(frozen=True)
class Fired:
    executed: int
    """Rule executions (each wrote one automation_logs row), failed ones included."""
    failed: int


@dataclass(frozen=True)
class LoadedRule:
    id: UUID
    tenant_id: UUID
    name: str
    trigger_event: str
    conditions: Any
    actions: tuple[dict[str, Any], ...]
    conditions_ok: bool
    problem: str | None
    """The validator's message when the rule cannot run."""


@dataclass(frozen=True)
class Execution:
    event_id: int
    rule: LoadedRule

    @property
    def key(self) -> actions.Key:
        return (self.event_id, self.rule.id)


def load_rules(conn: Connection, tenants: Sequence[UUID]) -> list[LoadedRule]:
    """The active rules of ``tenants``, each validated."""
    return [_checked(r) for r in conn.execute(LOAD_RULES, {"tenants": list(tenants)})]


def _checked(row: Any) -> LoadedRule:
    """A stored rule, decoded and validated; a rule that cannot be is kept, with its
    problem, so each of its executions is logged failed and every other rule runs."""
    conditions_ok, problem = True, None
    conditions: Any = None
    normalised: tuple[dict[str, Any], ...] = ()
    try:
        conditions = validate_conditions(decode(row.conditions, "conditions"))
    except RuleError as exc:
        conditions_ok, problem = False, exc.message
    if problem is None:
        try:
            actions = decode(row.actions, "actions")
            normalised = tuple(validate_actions(actions, row.trigger_event))
        except RuleError as exc:
            problem = exc.message
    return LoadedRule(
        row.id,
        row.tenant_id,
        row.name,
        row.trigger_event,
        conditions,
        normalised,
        conditions_ok,
        problem,
    )


def process_pending(conn: Connection, ctx: JobContext, *, batch_size: int = BATCH_SIZE) -> Fired:
    """Run the rules for every pending event of ``ctx.tenants``; see the module docstring."""
    if not ctx.tenants:
        return Fired(0, 0)
    rules = load_rules(conn, ctx.tenant_ids)
    if any(a["type"] == "escalate" for r in rules for a in r.actions):
        conn.execute(actions.CREATE_ESCALATIONS)
    executed = failed = 0
    while True:
        events = conn.execute(
            LOCK_PENDING, {"tenants": ctx.tenant_ids, "limit": batch_size}
        ).fetchall()
        if events:
            done = _process_batch(conn, ctx, rules, events)
            executed, failed = executed + done.executed, failed + done.failed
        if len(events) < batch_size:
            break
    if failed:
        log.warning("%d of %d rule execution(s) failed", failed, executed)
    return Fired(executed=executed, failed=failed)


def _process_batch(
    conn: Connection, ctx: JobContext, rules: Sequence[LoadedRule], events: Sequence[Any]
) -> Fired:
    """Steps 2-4 of the module docstring for one batch of locked events."""
    event_ids = [e.id for e in events]
    executions = _match(conn, rules, events, event_ids)
    runnable = [x for x in executions if x.rule.problem is None]
    details, errors = _act(conn, runnable, ctx)
    for x in executions:
        if x.rule.problem is not None:
            errors[x.key] = f"invalid rule: {x.rule.problem}"
    logs = [_log_row(x, details, errors) for x in executions]
    params = {"as_of": ctx.as_of, "run_id": ctx.run_id}
    if logs:
        conn.execute(WRITE_LOGS, {**params, "logs": json.dumps(logs)})
    conn.execute(MARK_PROCESSED, {**params, "events": event_ids})
    return Fired(executed=len(executions), failed=len(errors))


def _match(
    conn: Connection, rules: Sequence[LoadedRule], events: Sequence[Any], event_ids: list[int]
) -> list[Execution]:
    """Every (event, rule) execution: matched in SQL, or every event of the trigger for a
    rule whose conditions cannot be evaluated (it is logged failed for each)."""
    by_id = {r.id: r for r in rules}
    evaluable = [
        {
            "rule_id": str(r.id),
            "tenant_id": str(r.tenant_id),
            "trigger_event": r.trigger_event,
            "conditions": r.conditions,
        }
        for r in rules
        if r.conditions_ok
    ]
    out: list[Execution] = []
    if evaluable:
        rows = conn.execute(MATCH, {"rules": json.dumps(evaluable), "events": event_ids})
        out = [Execution(r.event_id, by_id[r.rule_id]) for r in rows]
    for rule in rules:
        if not rule.conditions_ok:
            out.extend(
                Execution(e.id, rule)
                for e in events
                if e.tenant_id == rule.tenant_id and e.event_type == rule.trigger_event
            )
    return out


Details = dict[tuple[int, UUID, int], dict[str, Any]]


def _act(
    conn: Connection, executions: Sequence[Execution], ctx: JobContext
) -> tuple[Details, dict[actions.Key, str]]:
    """Run the executions' actions; fall back to smaller groups to isolate failures."""
    details: Details = {}
    errors: dict[actions.Key, str] = {}
    if not executions:
        return details, errors
    groups: list[list[Execution]] = [list(executions)]
    level = 0
    while groups:
        retry: list[list[Execution]] = []
        for group in groups:
            try:
                details |= _attempt(conn, group, ctx)
            except DBAPIError as exc:
                if is_connection_lost(exc):
                    raise
                if len(group) == 1:
                    errors[group[0].key] = first_line(exc)
                elif level == 0 and len(by_rule := _by_rule(group)) > 1:
                    retry.extend(by_rule)
                else:
                    retry.extend([x] for x in group)
        groups, level = retry, level + 1
    return details, errors


def _by_rule(executions: Sequence[Execution]) -> list[list[Execution]]:
    grouped: dict[UUID, list[Execution]] = defaultdict(list)
    for x in executions:
        grouped[x.rule.id].append(x)
    return list(grouped.values())


def _attempt(conn: Connection, executions: Sequence[Execution], ctx: JobContext) -> Details:
    planned = [
        actions.Planned(x.event_id, x.rule.id, x.rule.tenant_id, x.rule.name, pos, action)
        for x in executions
        for pos, action in enumerate(x.rule.actions)
    ]
    done: Details = {}
    with conn.begin_nested():
        for phase in actions.PHASES:
            done |= actions.run_phase(conn, phase, planned, as_of=ctx.as_of, run_id=ctx.run_id)
    return done


def _log_row(x: Execution, details: Details, errors: dict[actions.Key, str]) -> dict[str, Any]:
    error = errors.get(x.key)
    executed = (
        []
        if error
        else [
            action | details.get((x.event_id, x.rule.id, pos), {})
            for pos, action in enumerate(x.rule.actions)
        ]
    )
    return {
        "tenant_id": str(x.rule.tenant_id),
        "rule_id": str(x.rule.id),
        "rule_name": x.rule.name,
        "trigger_event": x.rule.trigger_event,
        "status": "failed" if error else "success",
        "actions_executed": executed,
        "error_message": error,
        "event_id": x.event_id,
    }
