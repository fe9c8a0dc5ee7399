"""The three action types, each one set-based statement over every planned action.

The engine keeps a run's working set in temporary tables (``RUN_TABLES``): the
validated rules and their normalised actions, the page of locked events (each with
the task and case it names, resolved within the event's tenant, so a rule can never
reach another tenant's rows even when an event names a foreign id), the page's
executions, the *scope* of the current attempt (all of the page's executions, one
rule's, or one execution) and what each planned action did. A phase statement reads
the scope's actions of its type, acts, and writes one ``gstjobs_done`` row per planned
action (``detail``, merged into ``actions_executed`` by the engine's log statement).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, text

PHASES = ("escalate", "create_task", "notify")
"""Order of execution: a notification then shows the task as escalated, and a
follow-up task exists before anyone is told about it."""

Key = tuple[int, object]
"""An execution: (event id, rule id)."""

RUN_TABLES = (
    text(
        """
        CREATE TEMPORARY TABLE IF NOT EXISTS gstjobs_rules (
            rule_id uuid PRIMARY KEY, tenant_id uuid NOT NULL, name text NOT NULL,
            trigger_event text NOT NULL, conditions jsonb, match_all boolean NOT NULL,
            problem text
        ) ON COMMIT DROP
        """
    ),
    text(
        """
        CREATE TEMPORARY TABLE IF NOT EXISTS gstjobs_rule_actions (
            rule_id uuid NOT NULL, pos int NOT NULL, kind text NOT NULL, action jsonb NOT NULL,
            PRIMARY KEY (rule_id, pos)
        ) ON COMMIT DROP
        """
    ),
    text(
        """
        CREATE TEMPORARY TABLE IF NOT EXISTS gstjobs_page (
            event_id bigint PRIMARY KEY, tenant_id uuid NOT NULL, event_type text NOT NULL,
            entity_type text NOT NULL, dedup_key text NOT NULL, payload jsonb NOT NULL,
            task_id uuid, case_id uuid
        ) ON COMMIT DROP
        """
    ),
    text(
        """
        CREATE TEMPORARY TABLE IF NOT EXISTS gstjobs_exec (
            event_id bigint NOT NULL, rule_id uuid NOT NULL
        ) ON COMMIT DROP
        """
    ),
    text(
        """
        CREATE TEMPORARY TABLE IF NOT EXISTS gstjobs_scope (
            event_id bigint NOT NULL, rule_id uuid NOT NULL
        ) ON COMMIT DROP
        """
    ),
    text(
        """
        CREATE TEMPORARY TABLE IF NOT EXISTS gstjobs_done (
            event_id bigint NOT NULL, rule_id uuid NOT NULL, pos int NOT NULL,
            detail jsonb NOT NULL
        ) ON COMMIT DROP
        """
    ),
    text(
        """
        CREATE TEMPORARY TABLE IF NOT EXISTS gstjobs_failed (
            event_id bigint NOT NULL, rule_id uuid NOT NULL, error text NOT NULL
        ) ON COMMIT DROP
        """
    ),
    text(
        """
        CREATE TEMPORARY TABLE IF NOT EXISTS gstjobs_run_escalations (task_id uuid PRIMARY KEY)
        ON COMMIT DROP
        """
    ),
    # A second pass in the same transaction starts from its own rules; the escalations
    # stay: they are the run's (see ESCALATE).
    text("TRUNCATE pg_temp.gstjobs_rules, pg_temp.gstjobs_rule_actions"),
)
"""The run's working set; dropped at commit or rollback."""

CLEAR_PAGE = text(
    "TRUNCATE pg_temp.gstjobs_page, pg_temp.gstjobs_exec, pg_temp.gstjobs_done,"
    " pg_temp.gstjobs_failed"
)
CLEAR_SCOPE = text("TRUNCATE pg_temp.gstjobs_scope")

MARK_ALL = text(
    """
    UPDATE automation_events e SET processed_at = :as_of
    WHERE e.id IN (SELECT p.id FROM automation_events p
                   WHERE p.processed_at IS NULL AND p.tenant_id = ANY(:tenants)
                   FOR UPDATE SKIP LOCKED)
    """
)
"""With no active rule, every pending event is processed as it is (none can fire)."""

_TARGETS = """
planned AS (
    SELECT s.event_id, s.rule_id, a.pos, a.action, r.name AS rule_name
    FROM pg_temp.gstjobs_scope s
    JOIN pg_temp.gstjobs_rule_actions a ON a.rule_id = s.rule_id AND a.kind = {kind}
    JOIN pg_temp.gstjobs_rules r ON r.rule_id = s.rule_id
), targets AS (
    SELECT p.event_id, p.rule_id, p.pos, p.action, p.rule_name, g.tenant_id, g.event_type,
           g.dedup_key AS event_key, g.payload,
           t.id AS task_id, t.title AS task_title, t.priority AS task_priority,
           t.status AS task_status, t.due_date AS task_due, t.assigned_to AS task_assignee,
           c.id AS case_id, c.case_number, c.title AS case_title, c.owner_id,
           CASE WHEN g.entity_type = 'task' THEN t.assigned_to ELSE c.assigned_to END
               AS assignee
    FROM planned p
    JOIN pg_temp.gstjobs_page g ON g.event_id = p.event_id
    LEFT JOIN tasks t ON t.id = g.task_id AND t.tenant_id = g.tenant_id
    LEFT JOIN cases c ON c.id = g.case_id AND c.tenant_id = g.tenant_id
)
"""


def _targets(kind: str) -> str:
    return _TARGETS.format(kind=f"'{kind}'")  # one of PHASES, a constant


_TASK_JSON = """
CASE WHEN {x}.task_id IS NOT NULL THEN jsonb_build_object(
    'id', {x}.task_id, 'title', {x}.task_title, 'priority', {priority},
    'status', {x}.task_status, 'due_date', {x}.task_due) END
"""
_CASE_JSON = """
CASE WHEN {x}.case_id IS NOT NULL THEN jsonb_build_object(
    'id', {x}.case_id, 'case_number', {x}.case_number, 'title', {x}.case_title) END
"""

ESCALATABLE = ("task_overdue", "sla_violation", "deadline_approaching")
"""Triggers whose template can tell the case owner about an escalated task."""

# Every statement below returns its per-action result from the planning CTE alone, never
# by joining a CTE back to another (``targets`` to ``changed``, ``recipients`` to
# ``queued``): CTE scans carry no statistics, the planner estimates one row each and
# picks a nested loop, which is quadratic in the page.
ESCALATE = text(
    f"""
    WITH {_targets("escalate")}, grouped AS (
        SELECT x.*,
               x.task_id IS NOT NULL AND x.task_status NOT IN ('Completed', 'Cancelled')
                   AS open,
               bool_or((x.action ->> 'reassign')::boolean)
                   OVER (PARTITION BY x.task_id) AS reassign,
               bool_or((x.action ->> 'raise_priority')::boolean)
                   OVER (PARTITION BY x.task_id) AS raise,
               g.task_id IS NOT NULL AS raised_before,
               o.id AS active_owner
        FROM targets x
        LEFT JOIN pg_temp.gstjobs_run_escalations g ON g.task_id = x.task_id
        LEFT JOIN users o ON o.id = x.owner_id AND o.tenant_id = x.tenant_id AND o.is_active
    ), plan AS (
        SELECT p.*, p.raise AND NOT p.raised_before AS raise_now,
               CASE WHEN p.reassign AND p.active_owner IS NOT NULL THEN p.active_owner
                    ELSE p.task_assignee END AS new_assignee,
               CASE WHEN NOT p.raise OR p.raised_before THEN p.task_priority
                    WHEN p.task_priority = 'Low' THEN 'Medium'
                    WHEN p.task_priority = 'Medium' THEN 'High'
                    ELSE 'Critical' END AS new_priority,
               -- The case owner is told (copied), never handed the work unless asked.
               p.open AND p.active_owner IS NOT NULL
                   AND p.event_type IN ('task_overdue', 'sla_violation', 'deadline_approaching')
                   AS tell_owner
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
    ), told AS (
        INSERT INTO notifications (tenant_id, user_id, channel, template, payload, dedup_key,
                                   run_id)
        SELECT p.tenant_id, p.active_owner, 'email', p.event_type,
               jsonb_build_object(
                   'rule_id', p.rule_id,
                   'rule_name', p.rule_name,
                   'event_type', p.event_type,
                   'event', p.payload,
                   'task', {_TASK_JSON.format(x="p", priority="p.new_priority")},
                   'case', {_CASE_JSON.format(x="p")},
                   'escalation', jsonb_build_object(
                       'priority', jsonb_build_array(p.task_priority, p.new_priority),
                       'reassigned', p.new_assignee IS DISTINCT FROM p.task_assignee)),
               'escalate:rule:' || p.rule_id || ':event:' || p.event_id || ':pos:' || p.pos
                   || ':user:' || p.active_owner,
               CAST(:run_id AS bigint)
        FROM plan p
        WHERE p.tell_owner
        ON CONFLICT (tenant_id, channel, dedup_key) DO NOTHING
    )
    INSERT INTO pg_temp.gstjobs_done (event_id, rule_id, pos, detail)
    SELECT p.event_id, p.rule_id, p.pos,
           CASE WHEN NOT p.open
                THEN jsonb_build_object('task_id', p.task_id, 'skipped', 'no open task')
                ELSE jsonb_build_object(
                         'task_id', p.task_id,
                         'priority', jsonb_build_array(p.task_priority, p.new_priority),
                         'reassigned', p.new_assignee IS DISTINCT FROM p.task_assignee,
                         'assigned_to', p.new_assignee,
                         'owner_notified', p.tell_owner)
                     || CASE WHEN (p.action ->> 'raise_priority')::boolean AND p.raised_before
                             THEN '{{"priority_skipped": "already raised in this run"}}'::jsonb
                             ELSE '{{}}'::jsonb END
           END
    FROM plan p
    """
)

CREATE_TASK = text(
    f"""
    WITH {_targets("create_task")}, src AS (
        -- The new task's id follows from the execution (the event's own key, the rule and
        -- the action's place): a database that took the same writes holds the same ids.
        SELECT CAST(md5(concat_ws(':', 'gstjobs-task', x.tenant_id, x.event_type, x.event_key,
                                  x.rule_id, x.pos)) AS uuid) AS new_id,
               x.event_id, x.rule_id, x.pos, x.tenant_id,
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
    INSERT INTO pg_temp.gstjobs_done (event_id, rule_id, pos, detail)
    SELECT s.event_id, s.rule_id, s.pos,
           jsonb_build_object('task_id', s.new_id, 'assigned_to', s.assignee,
                              'due_date', s.due_date)
    FROM src s
    """
)

NOTIFY = text(
    f"""
    WITH {_targets("notify")}, recipients AS (
        SELECT x.*, u.id AS user_id, x.action ->> 'channel' AS channel,
               'rule:' || x.rule_id || ':event:' || x.event_id || ':user:' || u.id AS dedup_key
        FROM targets x
        LEFT JOIN users u
          ON u.tenant_id = x.tenant_id AND u.is_active
         AND CASE x.action ->> 'recipient'
                 WHEN 'assignee' THEN u.id = x.assignee
                 WHEN 'case_owner' THEN u.id = x.owner_id
                 ELSE u.role = 'admin'
             END
         -- WhatsApp only to those who opted in and gave a number; others are skipped.
         AND (x.action ->> 'channel' <> 'whatsapp'
              OR (u.whatsapp_opt_in AND u.phone IS NOT NULL))
    ), ranked AS (
        -- Two actions of one rule naming the same person on the same channel make one
        -- message: the first queues it. (No earlier row can hold the key: it names the
        -- event and the rule, and an execution happens once.) Counted here, not by
        -- matching the INSERT's RETURNING: an IN over a big CTE that does not fit in
        -- work_mem is a plain subplan, quadratic in the page (minutes at 50,000 events).
        SELECT r.*,
               r.user_id IS NOT NULL AND row_number() OVER (
                   PARTITION BY r.tenant_id, r.channel, r.dedup_key ORDER BY r.pos) = 1
                   AS first
        FROM recipients r
    ), queued AS (
        INSERT INTO notifications (tenant_id, user_id, channel, template, payload, dedup_key,
                                   run_id)
        SELECT r.tenant_id, r.user_id, r.channel, r.action ->> 'template',
               jsonb_build_object(
                   'rule_id', r.rule_id,
                   'rule_name', r.rule_name,
                   'event_type', r.event_type,
                   'event', r.payload,
                   'task', {_TASK_JSON.format(x="r", priority="r.task_priority")},
                   'case', {_CASE_JSON.format(x="r")}),
               r.dedup_key, CAST(:run_id AS bigint)
        FROM ranked r
        WHERE r.first
        ON CONFLICT (tenant_id, channel, dedup_key) DO NOTHING
    )
    INSERT INTO pg_temp.gstjobs_done (event_id, rule_id, pos, detail)
    SELECT r.event_id, r.rule_id, r.pos,
           jsonb_build_object('recipients', count(r.user_id),
                              'queued', count(*) FILTER (WHERE r.first))
    FROM ranked r
    GROUP BY r.event_id, r.rule_id, r.pos
    """
)

_STATEMENTS = {"escalate": ESCALATE, "create_task": CREATE_TASK, "notify": NOTIFY}


def run_phase(conn: Connection, phase: str, *, as_of: datetime, run_id: int) -> None:
    """Run every action of one type in the current scope, in one statement."""
    conn.execute(_STATEMENTS[phase], {"as_of": as_of, "run_id": run_id})
