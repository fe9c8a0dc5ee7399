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

ESCALATE = text(
    f"""
    WITH {_TARGETS}, wanted AS (
        SELECT x.task_id, x.tenant_id, x.owner_id, x.task_priority, x.task_assignee,
               bool_or((x.action ->> 'reassign')::boolean) AS reassign,
               bool_or((x.action ->> 'raise_priority')::boolean) AS raise
        FROM targets x
        WHERE x.task_id IS NOT NULL AND x.task_status NOT IN ('Completed', 'Cancelled')
        GROUP BY x.task_id, x.tenant_id, x.owner_id, x.task_priority, x.task_assignee
    ), changed AS (
        UPDATE tasks t
        SET assigned_to = CASE WHEN w.reassign AND o.id IS NOT NULL THEN o.id
                               ELSE t.assigned_to END,
            priority = CASE WHEN NOT w.raise THEN t.priority
                            WHEN t.priority = 'Low' THEN 'Medium'
                            WHEN t.priority = 'Medium' THEN 'High'
                            ELSE 'Critical' END
        FROM wanted w
        LEFT JOIN users o ON o.id = w.owner_id AND o.tenant_id = w.tenant_id AND o.is_active
        WHERE t.id = w.task_id AND t.tenant_id = w.tenant_id
        RETURNING t.id, t.priority, t.assigned_to
    )
    SELECT x.event_id, x.rule_id, x.pos, x.task_id,
           w.task_priority AS priority_from, ch.priority AS priority_to,
           w.task_assignee AS assignee_from, ch.assigned_to AS assignee_to
    FROM targets x
    LEFT JOIN wanted w ON w.task_id = x.task_id
    LEFT JOIN changed ch ON ch.id = x.task_id
    """
)

CREATE_TASK = text(
    f"""
    WITH {_TARGETS}, src AS (
        SELECT gen_random_uuid() AS new_id, x.*,
               CASE x.action ->> 'assign_to' WHEN 'case_owner' THEN x.owner_id
                                             ELSE x.assignee END AS wanted_assignee
        FROM targets x
    ), made AS (
        INSERT INTO tasks (id, tenant_id, case_id, title, priority, status, assigned_to,
                           due_date, created_at)
        SELECT s.new_id, s.tenant_id, s.case_id, s.action ->> 'title',
               s.action ->> 'priority', 'Pending', u.id,
               CAST(:as_of AS timestamptz)
                   + make_interval(hours => (s.action ->> 'due_in_hours')::int),
               CAST(:as_of AS timestamptz)
        FROM src s
        LEFT JOIN users u
               ON u.id = s.wanted_assignee AND u.tenant_id = s.tenant_id AND u.is_active
        RETURNING id, assigned_to, due_date
    )
    SELECT s.event_id, s.rule_id, s.pos, m.id AS task_id, m.assigned_to, m.due_date
    FROM src s JOIN made m ON m.id = s.new_id
    """
)

NOTIFY = text(
    f"""
    WITH {_TARGETS}, recipients AS (
        SELECT x.*, u.id AS user_id,
               'rule:' || x.rule_id || ':event:' || x.event_id || ':user:' || u.id AS dedup_key
        FROM targets x
        JOIN users u
          ON u.tenant_id = x.tenant_id AND u.is_active
         AND CASE x.action ->> 'recipient'
                 WHEN 'assignee' THEN u.id = x.assignee
                 WHEN 'case_owner' THEN u.id = x.owner_id
                 ELSE u.role = 'admin'
             END
    ), queued AS (
        INSERT INTO notifications (tenant_id, user_id, channel, template, payload, dedup_key,
                                   run_id)
        SELECT r.tenant_id, r.user_id, r.action ->> 'channel', r.action ->> 'template',
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
    )
    SELECT r.event_id, r.rule_id, r.pos, count(*) AS recipients, count(q.dedup_key) AS queued
    FROM recipients r
    LEFT JOIN queued q ON q.tenant_id = r.tenant_id AND q.channel = r.action ->> 'channel'
                      AND q.dedup_key = r.dedup_key
    GROUP BY r.event_id, r.rule_id, r.pos
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
    if row.priority_to is None:
        return {"task_id": str(row.task_id) if row.task_id else None, "skipped": "no open task"}
    return {
        "task_id": str(row.task_id),
        "priority": [row.priority_from, row.priority_to],
        "reassigned": row.assignee_to != row.assignee_from,
        "assigned_to": str(row.assignee_to) if row.assignee_to else None,
    }
