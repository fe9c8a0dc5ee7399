"""The three action types, each one set-based statement over every planned action.

The engine hands each statement a JSON array of planned actions
``{event_id, rule_id, tenant_id, rule_name, pos, action}`` (``action`` already
validated and normalised by ``rules.py``). The shared ``targets`` CTE resolves each
event to its task, hearing and case, always within the event's tenant, so a rule can
never reach another tenant's rows even when an event names a foreign id.

Every statement returns one row per planned action it acted on, keyed by
``(event_id, rule_id, pos)``; the engine turns those into ``actions_executed``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, text

PHASES = ("escalate", "create_task", "notify")
"""Order of execution: a notification then shows the task as escalated, and a
follow-up task exists before anyone is told about it."""

_TARGETS = """
planned AS (
    SELECT p.*
    FROM jsonb_to_recordset(CAST(:planned AS jsonb))
         AS p (event_id bigint, rule_id uuid, tenant_id uuid, rule_name text, pos int,
               action jsonb)
), targets AS (
    SELECT p.event_id, p.rule_id, p.pos, p.action, p.rule_name, e.tenant_id, e.event_type,
           e.payload,
           t.id AS task_id, t.title AS task_title, t.priority AS task_priority,
           t.status AS task_status, t.due_date AS task_due, t.assigned_to AS task_assignee,
           c.id AS case_id, c.case_number, c.title AS case_title, c.owner_id,
           CASE WHEN e.entity_type = 'task' THEN t.assigned_to ELSE c.assigned_to END
               AS assignee
    FROM planned p
    JOIN automation_events e ON e.id = p.event_id AND e.tenant_id = p.tenant_id
    LEFT JOIN tasks t
           ON e.entity_type = 'task' AND t.id = e.entity_id AND t.tenant_id = e.tenant_id
    LEFT JOIN hearings h
           ON e.entity_type = 'hearing' AND h.id = e.entity_id AND h.tenant_id = e.tenant_id
    LEFT JOIN cases c ON c.id = coalesce(t.case_id, h.case_id) AND c.tenant_id = e.tenant_id
)
"""

CREATE_ESCALATIONS = text(
    """
    CREATE TEMPORARY TABLE IF NOT EXISTS gstjobs_run_escalations (task_id uuid PRIMARY KEY)
    ON COMMIT DROP
    """
)
"""The tasks whose priority this run raised. Escalation raises a task one step per run,
however the work is split (several events of one task, batches, the engine's fallback
rule by rule): a raise is skipped for a task already listed here. A savepoint rolled back
takes its rows with it, so only raises that stand are remembered."""

# Every statement below returns its per-action result from the planning CTE alone, never
# by joining a CTE back to another (``targets`` to ``changed``, ``recipients`` to
# ``queued``): CTE scans carry no statistics, the planner estimates one row each and
# picks a nested loop, which is quadratic in the batch (500 s for 54k notifications).
ESCALATE = text(
    f"""
    WITH {_TARGETS}, grouped AS (
        SELECT x.event_id, x.rule_id, x.pos, x.action, x.tenant_id, x.task_id,
               x.task_priority, x.task_assignee,
               x.task_id IS NOT NULL AND x.task_status NOT IN ('Completed', 'Cancelled')
                   AS open,
               bool_or((x.action ->> 'reassign')::boolean)
                   OVER (PARTITION BY x.task_id) AS reassign,
               bool_or((x.action ->> 'raise_priority')::boolean)
                   OVER (PARTITION BY x.task_id) AS raise,
               g.task_id IS NOT NULL AS raised_before,
               o.id AS owner_id
        FROM targets x
        LEFT JOIN pg_temp.gstjobs_run_escalations g ON g.task_id = x.task_id
        LEFT JOIN users o ON o.id = x.owner_id AND o.tenant_id = x.tenant_id AND o.is_active
    ), plan AS (
        SELECT p.*, p.raise AND NOT p.raised_before AS raise_now,
               CASE WHEN p.reassign AND p.owner_id IS NOT NULL THEN p.owner_id
                    ELSE p.task_assignee END AS new_assignee,
               CASE WHEN NOT p.raise OR p.raised_before THEN p.task_priority
                    WHEN p.task_priority = 'Low' THEN 'Medium'
                    WHEN p.task_priority = 'Medium' THEN 'High'
                    ELSE 'Critical' END AS new_priority
        FROM grouped p
    ), wanted AS (
        SELECT DISTINCT ON (p.task_id) p.task_id, p.tenant_id, p.new_assignee, p.new_priority,
               p.raise_now
        FROM plan p
        WHERE p.open
    ), changed AS (
        UPDATE tasks t
        SET assigned_to = w.new_assignee, priority = w.new_priority
        FROM wanted w
        WHERE t.id = w.task_id AND t.tenant_id = w.tenant_id
          AND (t.assigned_to, t.priority) IS DISTINCT FROM (w.new_assignee, w.new_priority)
    ), recorded AS (
        INSERT INTO pg_temp.gstjobs_run_escalations (task_id)
        SELECT w.task_id FROM wanted w WHERE w.raise_now
        ON CONFLICT (task_id) DO NOTHING
    )
    SELECT p.event_id, p.rule_id, p.pos, p.task_id, p.open,
           p.task_priority AS priority_from, p.new_priority AS priority_to,
           p.task_assignee AS assignee_from, p.new_assignee AS assignee_to,
           (p.action ->> 'raise_priority')::boolean AND p.raised_before AS raised_earlier
    FROM plan p
    """
)

CREATE_TASK = text(
    f"""
    WITH {_TARGETS}, src AS (
        SELECT gen_random_uuid() AS new_id, x.event_id, x.rule_id, x.pos, x.tenant_id,
               x.case_id, x.action, u.id AS assignee,
               CAST(:as_of AS timestamptz)
                   + make_interval(hours => (x.action ->> 'due_in_hours')::int) AS due_date
        FROM targets x
        LEFT JOIN users u
               ON u.id = CASE x.action ->> 'assign_to' WHEN 'case_owner' THEN x.owner_id
                                                       ELSE x.assignee END
              AND u.tenant_id = x.tenant_id AND u.is_active
    ), made AS (
        INSERT INTO tasks (id, tenant_id, case_id, title, priority, status, assigned_to,
                           due_date, created_at)
        SELECT s.new_id, s.tenant_id, s.case_id, s.action ->> 'title',
               s.action ->> 'priority', 'Pending', s.assignee, s.due_date,
               CAST(:as_of AS timestamptz)
        FROM src s
    )
    SELECT s.event_id, s.rule_id, s.pos, s.new_id AS task_id, s.assignee AS assigned_to,
           s.due_date
    FROM src s
    """
)

NOTIFY = text(
    f"""
    WITH {_TARGETS}, recipients AS (
        SELECT x.*, u.id AS user_id, x.action ->> 'channel' AS channel,
               'rule:' || x.rule_id || ':event:' || x.event_id || ':user:' || u.id AS dedup_key
        FROM targets x
        JOIN users u
          ON u.tenant_id = x.tenant_id AND u.is_active
         AND CASE x.action ->> 'recipient'
                 WHEN 'assignee' THEN u.id = x.assignee
                 WHEN 'case_owner' THEN u.id = x.owner_id
                 ELSE u.role = 'admin'
             END
         -- WhatsApp only to those who opted in and gave a number; others are skipped.
         AND (x.action ->> 'channel' <> 'whatsapp'
              OR (u.whatsapp_opt_in AND u.phone IS NOT NULL))
    ), queued AS (
        INSERT INTO notifications (tenant_id, user_id, channel, template, payload, dedup_key,
                                   run_id)
        SELECT r.tenant_id, r.user_id, r.channel, r.action ->> 'template',
               jsonb_build_object(
                   'rule_id', r.rule_id,
                   'rule_name', r.rule_name,
                   'event_type', r.event_type,
                   'event', r.payload,
                   'task', CASE WHEN r.task_id IS NOT NULL THEN jsonb_build_object(
                               'id', r.task_id, 'title', r.task_title,
                               'priority', r.task_priority, 'status', r.task_status,
                               'due_date', r.task_due) END,
                   'case', CASE WHEN r.case_id IS NOT NULL THEN jsonb_build_object(
                               'id', r.case_id, 'case_number', r.case_number,
                               'title', r.case_title) END),
               r.dedup_key, CAST(:run_id AS bigint)
        FROM recipients r
        ON CONFLICT (tenant_id, channel, dedup_key) DO NOTHING
        RETURNING tenant_id, channel, dedup_key
    ), flagged AS (
        -- An uncorrelated IN: a hashed subplan, linear whatever the planner's estimates.
        SELECT r.event_id, r.rule_id, r.pos,
               (r.tenant_id, r.channel, r.dedup_key)
                   IN (SELECT q.tenant_id, q.channel, q.dedup_key FROM queued q) AS queued
        FROM recipients r
    )
    SELECT f.event_id, f.rule_id, f.pos, count(*) AS recipients,
           count(*) FILTER (WHERE f.queued) AS queued
    FROM flagged f
    GROUP BY f.event_id, f.rule_id, f.pos
    """
)

Key = tuple[int, UUID]
"""An execution: (event id, rule id)."""


@dataclass(frozen=True)
class Planned:
    event_id: int
    rule_id: UUID
    tenant_id: UUID
    rule_name: str
    pos: int
    action: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "rule_id": str(self.rule_id),
            "tenant_id": str(self.tenant_id),
            "rule_name": self.rule_name,
            "pos": self.pos,
            "action": self.action,
        }


def run_phase(
    conn: Connection, phase: str, planned: Sequence[Planned], *, as_of: datetime, run_id: int
) -> dict[tuple[int, UUID, int], dict[str, Any]]:
    """Run every planned action of one type in one statement; what each one did."""
    mine = [p for p in planned if p.action["type"] == phase]
    if not mine:
        return {}
    params = {
        "planned": json.dumps([p.as_json() for p in mine]),
        "as_of": as_of,
        "run_id": run_id,
    }
    if phase == "escalate":
        rows = conn.execute(ESCALATE, params)
        return {(r.event_id, r.rule_id, r.pos): _escalated(r) for r in rows}
    if phase == "create_task":
        rows = conn.execute(CREATE_TASK, params)
        return {
            (r.event_id, r.rule_id, r.pos): {
                "task_id": str(r.task_id),
                "assigned_to": str(r.assigned_to) if r.assigned_to else None,
                "due_date": r.due_date.isoformat(),
            }
            for r in rows
        }
    rows = conn.execute(NOTIFY, params)
    done = {
        (r.event_id, r.rule_id, r.pos): {"recipients": r.recipients, "queued": r.queued}
        for r in rows
    }
    return {
        (p.event_id, p.rule_id, p.pos): done.get(
            (p.event_id, p.rule_id, p.pos), {"recipients": 0, "queued": 0}
        )
        for p in mine
    }


def _escalated(row: Any) -> dict[str, Any]:
    if not row.open:
        return {"task_id": str(row.task_id) if row.task_id else None, "skipped": "no open task"}
    done = {
        "task_id": str(row.task_id),
        "priority": [row.priority_from, row.priority_to],
        "reassigned": row.assignee_to != row.assignee_from,
        "assigned_to": str(row.assignee_to) if row.assignee_to else None,
    }
    if row.raised_earlier:
        done["priority_skipped"] = "already raised in this run"
    return done
