"""The rules engine: evaluates active automation rules for every pending event.

Called by the jobs that emit events (sla-check, deadline-alerts) inside their tenant
transaction. Each call loads the active rules of the run's tenants (one query) and
validates each in Python (``rules.py``); an invalid rule is never run, its executions
are logged ``failed`` with the validator's message. The validated rules go to the
database once, as run-local temporary tables (``actions.RUN_TABLES``); from there on
every step is a set-based statement and no event's data passes through Python. Page by
page of at most ``BATCH_SIZE`` events, in event-id order (keyset: each page starts
after the last id of the one before, so no page re-reads or re-sorts the backlog):

1. takes the page's pending events (``FOR UPDATE SKIP LOCKED``, so two jobs processing
   at once never take the same event), marks them processed in the same statement (the
   row lock holds to the commit) and copies them, with the task, hearing and case each
   names within its own tenant, into ``gstjobs_page``;
2. matches the page to the rules in one join through ``gstjobs_rule_matches``
   (``gstjobs_exec``: one row per execution);
3. runs the actions set-based, one statement per action type (escalate, create_task,
   notify) inside a savepoint; if that fails, again rule by rule and, within a
   failing rule, execution by execution, each in its own savepoint, so one bad rule
   (or one bad row) is logged ``failed`` and every other execution still acts;
4. writes one ``automation_logs`` row per execution.

Every page shares the caller's transaction: committed together, an event's actions
happen exactly once; rolled back (a killed run), nothing happened and the events are
still pending for the next run. A failed execution is not retried: the log and the
health check report it. Escalation raises a task's priority at most one step per run,
however the events of that task fall into pages and fallback groups (see
``actions.CREATE_ESCALATIONS``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from gstjobs import stats
from gstjobs.automation import actions
from gstjobs.automation.rules import decode, validate_actions, validate_conditions
from gstjobs.core import JobContext
from gstjobs.db import is_connection_lost
from gstjobs.errors import RuleError, first_line

log = logging.getLogger(__name__)

SMALL = 1_000
"""Run-local tables smaller than this are not analysed: the planner's guess from their
size is good enough, and a quiet tick should not pay for statistics."""
ANALYZE_RULES = text("ANALYZE pg_temp.gstjobs_rules, pg_temp.gstjobs_rule_actions")
ANALYZE_PAGE = text("ANALYZE pg_temp.gstjobs_page, pg_temp.gstjobs_exec")

BATCH_SIZE = 50_000
"""Pending events per page: bounds the run-local tables, the locks a failing statement
rolls back and the cost of the fallback, not the number of statements per event."""

WITH_PENDING = text(
    """
    SELECT DISTINCT tenant_id FROM automation_events
    WHERE processed_at IS NULL AND tenant_id = ANY(:tenants)
    """
)
"""The run's practices that have pending events: only their rules are loaded, and only
their events are taken (an event of another practice committed meanwhile waits for the
next run, which loads its rules)."""

LOAD_RULES = text(
    """
    SELECT id, tenant_id, name, trigger_event,
           CAST(conditions AS text) AS conditions, CAST(actions AS text) AS actions,
           CAST(xmin AS text) AS version
    FROM automation_rules
    WHERE tenant_id = ANY(:tenants) AND is_active
    ORDER BY tenant_id, created_at, id
    """
)

STORE_RULES = text(
    """
    WITH r AS (
        SELECT *
        FROM jsonb_to_recordset(CAST(:rules AS jsonb))
             AS r (rule_id uuid, tenant_id uuid, name text, trigger_event text,
                   conditions_ok boolean, problem text, actions jsonb, version text)
    ), checked AS (
        -- The stored conditions, already validated in Python, are never re-sent; but
        -- this statement reads the table again, and a rule edited since LOAD_RULES read
        -- it (another row version) was not validated: it is kept out of this run (its
        -- executions logged failed, every other rule acts); the next run loads it anew.
        SELECT r.*, a.conditions, CAST(a.xmin AS text) = r.version AS same
        FROM r JOIN automation_rules a ON a.id = r.rule_id AND a.tenant_id = r.tenant_id
    ), stored AS (
        INSERT INTO pg_temp.gstjobs_rules (rule_id, tenant_id, name, trigger_event,
                                          conditions, match_all, problem)
        SELECT rule_id, tenant_id, name, trigger_event,
               CASE WHEN conditions_ok AND same THEN conditions END,
               NOT (conditions_ok AND same) OR conditions = '{}'::jsonb,
               CASE WHEN problem IS NULL AND NOT same
                    THEN 'the rule was changed while this run loaded it; '
                         || 'the next run uses the new version'
                    ELSE problem END
        FROM checked
    )
    INSERT INTO pg_temp.gstjobs_rule_actions (rule_id, pos, kind, action)
    SELECT r.rule_id, (x.ord - 1)::int, x.action ->> 'type', x.action
    FROM r CROSS JOIN LATERAL jsonb_array_elements(r.actions) WITH ORDINALITY AS x (action, ord)
    WHERE r.problem IS NULL
    """
)

LOCK_PAGE = text(
    """
    WITH locked AS (
        SELECT e.id
        FROM automation_events e
        WHERE e.processed_at IS NULL AND e.id > :after AND e.tenant_id = ANY(:tenants)
        ORDER BY e.id
        LIMIT :limit
        FOR UPDATE OF e SKIP LOCKED
    ), taken AS (
        -- Marked processed as they are taken: the row lock holds until the commit, and a
        -- rollback (a killed run) leaves them pending again. One write per event.
        UPDATE automation_events e SET processed_at = :as_of
        FROM locked l
        WHERE e.id = l.id
        RETURNING e.id, e.tenant_id, e.event_type, e.entity_type, e.entity_id, e.dedup_key,
                  e.payload
    ), paged AS (
        INSERT INTO pg_temp.gstjobs_page (event_id, tenant_id, event_type, entity_type,
                                         dedup_key, payload, task_id, case_id)
        SELECT l.id, l.tenant_id, l.event_type, l.entity_type, l.dedup_key, l.payload, t.id,
               c.id
        FROM taken l
        LEFT JOIN tasks t
               ON l.entity_type = 'task' AND t.id = l.entity_id AND t.tenant_id = l.tenant_id
        LEFT JOIN hearings h
               ON l.entity_type = 'hearing' AND h.id = l.entity_id
              AND h.tenant_id = l.tenant_id
        LEFT JOIN proceedings pr
               ON l.entity_type = 'proceeding' AND pr.id = l.entity_id
              AND pr.tenant_id = l.tenant_id
        LEFT JOIN cases c ON c.id = coalesce(t.case_id, h.case_id, pr.case_id)
              AND c.tenant_id = l.tenant_id
        RETURNING event_id
    )
    SELECT count(*) AS n, max(event_id) AS last FROM paged
    """
)

MATCH = text(
    """
    INSERT INTO pg_temp.gstjobs_exec (event_id, rule_id)
    SELECT p.event_id, r.rule_id
    FROM pg_temp.gstjobs_page p
    JOIN pg_temp.gstjobs_rules r
      ON r.tenant_id = p.tenant_id AND r.trigger_event = p.event_type
    WHERE r.match_all OR gstjobs_rule_matches(r.conditions, p.payload)
    """
)

SCOPE_ALL = text(
    """
    INSERT INTO pg_temp.gstjobs_scope (event_id, rule_id)
    SELECT x.event_id, x.rule_id
    FROM pg_temp.gstjobs_exec x JOIN pg_temp.gstjobs_rules r ON r.rule_id = x.rule_id
    WHERE r.problem IS NULL
    """
)

SCOPE_RULE = text(
    """
    INSERT INTO pg_temp.gstjobs_scope (event_id, rule_id)
    SELECT x.event_id, x.rule_id FROM pg_temp.gstjobs_exec x WHERE x.rule_id = :rule_id
    """
)

SCOPE_ONE = text(
    "INSERT INTO pg_temp.gstjobs_scope (event_id, rule_id) VALUES (:event_id, :rule_id)"
)

SCOPE_RULES = text("SELECT DISTINCT rule_id FROM pg_temp.gstjobs_scope")

SCOPE_EXECUTIONS = text(
    "SELECT event_id, rule_id FROM pg_temp.gstjobs_scope ORDER BY event_id, rule_id"
)

SCOPE_KINDS = text(
    """
    SELECT DISTINCT a.kind
    FROM pg_temp.gstjobs_scope s JOIN pg_temp.gstjobs_rule_actions a ON a.rule_id = s.rule_id
    """
)

RECORD_FAILED = text(
    """
    INSERT INTO pg_temp.gstjobs_failed (event_id, rule_id, error)
    SELECT * FROM unnest(CAST(:events AS bigint[]), CAST(:rules AS uuid[]),
                         CAST(:errors AS text[]))
    """
)

WRITE_LOGS = text(
    """
    WITH acted AS (
        SELECT d.event_id, d.rule_id,
               jsonb_agg(a.action || d.detail ORDER BY a.pos) AS executed
        FROM pg_temp.gstjobs_done d
        JOIN pg_temp.gstjobs_rule_actions a ON a.rule_id = d.rule_id AND a.pos = d.pos
        GROUP BY d.event_id, d.rule_id
    ), logged AS (
        INSERT INTO automation_logs (tenant_id, rule_id, rule_name, trigger_event, status,
                                     actions_executed, error_message, executed_at, event_id,
                                     run_id)
        SELECT r.tenant_id, r.rule_id, r.name, r.trigger_event,
               CASE WHEN r.problem IS NULL AND f.error IS NULL THEN 'success' ELSE 'failed' END,
               CASE WHEN r.problem IS NULL AND f.error IS NULL
                    THEN coalesce(ac.executed, '[]'::jsonb) ELSE '[]'::jsonb END,
               coalesce('invalid rule: ' || r.problem, f.error),
               :as_of, x.event_id, :run_id
        FROM pg_temp.gstjobs_exec x
        JOIN pg_temp.gstjobs_rules r ON r.rule_id = x.rule_id
        LEFT JOIN pg_temp.gstjobs_failed f ON f.event_id = x.event_id AND f.rule_id = x.rule_id
        LEFT JOIN acted ac ON ac.event_id = x.event_id AND ac.rule_id = x.rule_id
        RETURNING status
    )
    SELECT count(*) AS executed, count(*) FILTER (WHERE status = 'failed') AS failed
    FROM logged
    """
)


@dataclass(frozen=True)
class Fired:
    executed: int
    """Rule executions (each wrote one automation_logs row), failed ones included."""
    failed: int
    seconds: float = 0.0
    """The engine's own time (reported as ``rulesSeconds`` by the jobs, for the bench)."""


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
    version: str
    """The row version (xmin) validated: STORE_RULES keeps out a rule changed since."""

    def as_json(self) -> dict[str, Any]:
        return {
            "rule_id": str(self.id),
            "tenant_id": str(self.tenant_id),
            "name": self.name,
            "trigger_event": self.trigger_event,
            "conditions_ok": self.conditions_ok,
            "problem": self.problem,
            "actions": list(self.actions),
            "version": self.version,
        }


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
        conditions = validate_conditions(
            decode(row.conditions, "conditions"), trigger_event=row.trigger_event
        )
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
        row.version,
    )


def process_pending(conn: Connection, ctx: JobContext, *, batch_size: int = BATCH_SIZE) -> Fired:
    """Run the rules for every pending event of ``ctx.tenants``; see the module docstring."""
    if not ctx.tenants:
        return Fired(0, 0)
    began = time.monotonic()
    tenants = [r.tenant_id for r in conn.execute(WITH_PENDING, {"tenants": ctx.tenant_ids})]
    if not tenants:
        return Fired(0, 0, time.monotonic() - began)  # a quiet tick: nothing to load
    rules = load_rules(conn, tenants)
    if not rules:
        # Nothing can fire: the pending events are processed as they are, in one statement.
        conn.execute(actions.MARK_ALL, {"tenants": tenants, "as_of": ctx.as_of})
        return Fired(0, 0, time.monotonic() - began)
    stats.analyze_if_never(conn, ("automation_events", "cases", "hearings", "tasks", "users"))
    for statement in actions.RUN_TABLES:
        conn.execute(statement)
    conn.execute(STORE_RULES, {"rules": json.dumps([r.as_json() for r in rules])})
    if len(rules) >= SMALL:
        conn.execute(ANALYZE_RULES)
    executed = failed = events = 0
    after = 0
    while True:
        conn.execute(actions.CLEAR_PAGE)
        page = conn.execute(
            LOCK_PAGE,
            {"tenants": tenants, "after": after, "limit": batch_size, "as_of": ctx.as_of},
        ).one()
        if page.n:
            done = _process_page(conn, ctx, page.n)
            executed, failed = executed + done.executed, failed + done.failed
            events, after = events + page.n, page.last
        if page.n < batch_size:
            break
    if failed:
        log.warning("%d of %d rule execution(s) failed", failed, executed)
    # The next run's first statement reads the pending events: keep their statistics right.
    stats.analyze_if_changed(conn, {"automation_events": events})
    return Fired(executed=executed, failed=failed, seconds=time.monotonic() - began)


def _process_page(conn: Connection, ctx: JobContext, events: int) -> Fired:
    """Steps 2-4 of the module docstring for the locked page."""
    params = {"as_of": ctx.as_of, "run_id": ctx.run_id}
    conn.execute(MATCH)
    if events >= SMALL:
        conn.execute(ANALYZE_PAGE)
    errors = _act(conn, ctx)
    if errors:
        keys = list(errors)
        conn.execute(
            RECORD_FAILED,
            {
                "events": [e for e, _ in keys],
                "rules": [r for _, r in keys],
                "errors": [errors[k] for k in keys],
            },
        )
    logged = conn.execute(WRITE_LOGS, params).one()
    return Fired(executed=logged.executed, failed=logged.failed)


Group = tuple[str, Any]
"""An attempt's scope: ("all", None), ("rule", rule id) or ("one", (event id, rule id))."""


def _act(conn: Connection, ctx: JobContext) -> dict[actions.Key, str]:
    """Run the page's runnable executions; fall back to smaller groups to isolate failures.
    Returns the error of each execution that failed alone."""
    errors: dict[actions.Key, str] = {}
    groups: list[Group] = [("all", None)]
    while groups:
        retry: list[Group] = []
        for group in groups:
            _scope(conn, group)
            try:
                _attempt(conn, ctx)
            except DBAPIError as exc:
                if is_connection_lost(exc):
                    raise
                kind, key = group
                if kind == "one":
                    errors[key] = first_line(exc)
                    continue
                if kind == "all":
                    rule_ids = [r.rule_id for r in conn.execute(SCOPE_RULES)]
                    if len(rule_ids) > 1:
                        retry.extend(("rule", r) for r in rule_ids)
                        continue
                retry.extend(
                    ("one", (x.event_id, x.rule_id)) for x in conn.execute(SCOPE_EXECUTIONS)
                )
        groups = retry
    return errors


def _scope(conn: Connection, group: Group) -> None:
    conn.execute(actions.CLEAR_SCOPE)
    kind, key = group
    if kind == "all":
        conn.execute(SCOPE_ALL)
    elif kind == "rule":
        conn.execute(SCOPE_RULE, {"rule_id": key})
    else:
        conn.execute(SCOPE_ONE, {"event_id": key[0], "rule_id": key[1]})


def _attempt(conn: Connection, ctx: JobContext) -> None:
    kinds = {r.kind for r in conn.execute(SCOPE_KINDS)}
    with conn.begin_nested():
        for phase in actions.PHASES:
            if phase in kinds:
                actions.run_phase(conn, phase, as_of=ctx.as_of, run_id=ctx.run_id)
