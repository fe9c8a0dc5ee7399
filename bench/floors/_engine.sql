-- The rules engine's writes, in pure SQL, over every pending event of every practice:
-- what `gstjobs.automation.engine.process_pending` does, with no paging, no savepoints,
-- no fallback and no statistics, and the rules' defaults filled in by SQL instead of the
-- Python validator (enough for valid rules; the floor assumes every rule is valid).
-- Included by sla-check.sql and deadline-alerts.sql; expects the temp table `params`.

CREATE TEMP TABLE f_rules ON COMMIT DROP AS
SELECT r.id AS rule_id, r.tenant_id, r.name, r.trigger_event, r.conditions,
       r.conditions = '{}'::jsonb AS match_all
FROM automation_rules r
WHERE r.is_active;

CREATE TEMP TABLE f_actions ON COMMIT DROP AS
SELECT r.id AS rule_id, (x.ord - 1)::int AS pos, x.a ->> 'type' AS kind,
       CASE x.a ->> 'type'
         WHEN 'notify' THEN jsonb_build_object(
             'type', 'notify', 'recipient', x.a -> 'recipient',
             'channel', coalesce(x.a -> 'channel', '"email"'),
             'template', coalesce(x.a -> 'template', to_jsonb(r.trigger_event)))
         WHEN 'escalate' THEN jsonb_build_object(
             'type', 'escalate',
             'raise_priority', coalesce(x.a -> 'raise_priority', 'true'),
             'reassign', coalesce((x.a ->> 'reassign')::boolean,
                                  x.a ->> 'reassign_to' = 'case_owner', false))
         ELSE jsonb_build_object(
             'type', 'create_task', 'title', btrim(x.a ->> 'title'),
             'due_in_hours', x.a -> 'due_in_hours',
             'priority', coalesce(x.a -> 'priority', '"Medium"'),
             'assign_to', coalesce(x.a -> 'assign_to', '"assignee"'))
       END AS action
FROM automation_rules r
CROSS JOIN LATERAL jsonb_array_elements(r.actions) WITH ORDINALITY AS x (a, ord)
WHERE r.is_active;

ANALYZE f_rules, f_actions;

-- The pending events, each with its task and case within its own practice.
CREATE TEMP TABLE f_events ON COMMIT DROP AS
SELECT e.id AS event_id, e.tenant_id, e.event_type, e.entity_type, e.dedup_key, e.payload,
       t.id AS task_id, c.id AS case_id
FROM automation_events e
LEFT JOIN tasks t ON e.entity_type = 'task' AND t.id = e.entity_id AND t.tenant_id = e.tenant_id
LEFT JOIN hearings h
       ON e.entity_type = 'hearing' AND h.id = e.entity_id AND h.tenant_id = e.tenant_id
LEFT JOIN cases c ON c.id = coalesce(t.case_id, h.case_id) AND c.tenant_id = e.tenant_id
WHERE e.processed_at IS NULL;

-- Every execution (event x matching rule) and each of its actions.
CREATE TEMP TABLE f_planned ON COMMIT DROP AS
SELECT p.event_id, r.rule_id, a.pos, a.kind, a.action, r.name AS rule_name
FROM f_events p
JOIN f_rules r ON r.tenant_id = p.tenant_id AND r.trigger_event = p.event_type
JOIN f_actions a ON a.rule_id = r.rule_id
WHERE r.match_all OR gstjobs_rule_matches(r.conditions, p.payload);
ANALYZE f_events, f_planned;

CREATE TEMP TABLE f_done (event_id bigint, rule_id uuid, pos int, detail jsonb) ON COMMIT DROP;

-- escalate: one step per task, the case owner told
WITH targets AS (
    SELECT p.*, g.tenant_id, g.event_type, g.payload,
           t.id AS task_id, t.title AS task_title, t.priority AS task_priority,
           t.status AS task_status, t.due_date AS task_due, t.assigned_to AS task_assignee,
           c.id AS case_id, c.case_number, c.title AS case_title, c.owner_id
    FROM f_planned p
    JOIN f_events g ON g.event_id = p.event_id
    LEFT JOIN tasks t ON t.id = g.task_id
    LEFT JOIN cases c ON c.id = g.case_id
    WHERE p.kind = 'escalate'
), plan AS (
    SELECT x.*,
           x.task_id IS NOT NULL AND x.task_status NOT IN ('Completed', 'Cancelled') AS open,
           bool_or((x.action ->> 'reassign')::boolean) OVER w AS reassign,
           bool_or((x.action ->> 'raise_priority')::boolean) OVER w AS raise,
           o.id AS active_owner
    FROM targets x
    LEFT JOIN users o ON o.id = x.owner_id AND o.tenant_id = x.tenant_id AND o.is_active
    WINDOW w AS (PARTITION BY x.task_id)
), decided AS (
    SELECT p.*,
           CASE WHEN p.reassign AND p.active_owner IS NOT NULL THEN p.active_owner
                ELSE p.task_assignee END AS new_assignee,
           CASE WHEN NOT p.raise THEN p.task_priority
                WHEN p.task_priority = 'Low' THEN 'Medium'
                WHEN p.task_priority = 'Medium' THEN 'High'
                ELSE 'Critical' END AS new_priority,
           p.open AND p.active_owner IS NOT NULL
               AND p.event_type IN ('task_overdue', 'sla_violation', 'deadline_approaching')
               AS tell_owner
    FROM plan p
), changed AS (
    UPDATE tasks t SET assigned_to = w.new_assignee, priority = w.new_priority
    FROM (SELECT DISTINCT ON (task_id) * FROM decided WHERE open) w
    WHERE t.id = w.task_id
      AND (t.assigned_to, t.priority) IS DISTINCT FROM (w.new_assignee, w.new_priority)
), told AS (
    INSERT INTO notifications (tenant_id, user_id, channel, template, payload, dedup_key, run_id)
    SELECT p.tenant_id, p.active_owner, 'email', p.event_type,
           jsonb_build_object(
               'rule_id', p.rule_id, 'rule_name', p.rule_name, 'event_type', p.event_type,
               'event', p.payload,
               'task', jsonb_build_object('id', p.task_id, 'title', p.task_title,
                                          'priority', p.new_priority, 'status', p.task_status,
                                          'due_date', p.task_due),
               'case', CASE WHEN p.case_id IS NOT NULL THEN jsonb_build_object(
                           'id', p.case_id, 'case_number', p.case_number,
                           'title', p.case_title) END,
               'escalation', jsonb_build_object(
                   'priority', jsonb_build_array(p.task_priority, p.new_priority),
                   'reassigned', p.new_assignee IS DISTINCT FROM p.task_assignee)),
           'escalate:rule:' || p.rule_id || ':event:' || p.event_id || ':pos:' || p.pos
               || ':user:' || p.active_owner,
           (SELECT run_id FROM params)
    FROM decided p
    WHERE p.tell_owner
)
INSERT INTO f_done
SELECT p.event_id, p.rule_id, p.pos,
       CASE WHEN NOT p.open
            THEN jsonb_build_object('task_id', p.task_id, 'skipped', 'no open task')
            ELSE jsonb_build_object(
                     'task_id', p.task_id,
                     'priority', jsonb_build_array(p.task_priority, p.new_priority),
                     'reassigned', p.new_assignee IS DISTINCT FROM p.task_assignee,
                     'assigned_to', p.new_assignee, 'owner_notified', p.tell_owner)
       END
FROM decided p;

-- create_task
WITH src AS (
    SELECT CAST(md5(concat_ws(':', 'gstjobs-task', g.tenant_id, g.event_type, g.dedup_key,
                              p.rule_id, p.pos)) AS uuid) AS new_id,
           p.event_id, p.rule_id, p.pos, g.tenant_id,
           c.id AS case_id, p.action, u.id AS assignee,
           (SELECT as_of FROM params)
               + make_interval(hours => (p.action ->> 'due_in_hours')::int) AS due_date
    FROM f_planned p
    JOIN f_events g ON g.event_id = p.event_id
    LEFT JOIN tasks t ON t.id = g.task_id
    LEFT JOIN cases c ON c.id = g.case_id
    LEFT JOIN users u
           ON u.id = CASE p.action ->> 'assign_to' WHEN 'case_owner' THEN c.owner_id
                     ELSE CASE WHEN g.entity_type = 'task' THEN t.assigned_to
                               ELSE c.assigned_to END END
          AND u.tenant_id = g.tenant_id AND u.is_active
    WHERE p.kind = 'create_task'
), made AS (
    INSERT INTO tasks (id, tenant_id, case_id, title, priority, status, assigned_to,
                       due_date, created_at)
    SELECT s.new_id, s.tenant_id, s.case_id, s.action ->> 'title', s.action ->> 'priority',
           'Pending', s.assignee, s.due_date, (SELECT as_of FROM params)
    FROM src s
)
INSERT INTO f_done
SELECT s.event_id, s.rule_id, s.pos,
       jsonb_build_object('task_id', s.new_id, 'assigned_to', s.assignee, 'due_date', s.due_date)
FROM src s;

-- notify
WITH recipients AS (
    SELECT p.event_id, p.rule_id, p.pos, p.action, p.rule_name, g.tenant_id, g.event_type,
           g.payload, t.id AS task_id, t.title AS task_title, t.priority AS task_priority,
           t.status AS task_status, t.due_date AS task_due,
           c.id AS case_id, c.case_number, c.title AS case_title,
           u.id AS user_id, p.action ->> 'channel' AS channel,
           'rule:' || p.rule_id || ':event:' || p.event_id || ':user:' || u.id AS dedup_key
    FROM f_planned p
    JOIN f_events g ON g.event_id = p.event_id
    LEFT JOIN tasks t ON t.id = g.task_id
    LEFT JOIN cases c ON c.id = g.case_id
    LEFT JOIN users u
      ON u.tenant_id = g.tenant_id AND u.is_active
     AND CASE p.action ->> 'recipient'
             WHEN 'assignee' THEN u.id = CASE WHEN g.entity_type = 'task' THEN t.assigned_to
                                              ELSE c.assigned_to END
             WHEN 'case_owner' THEN u.id = c.owner_id
             ELSE u.role = 'admin'
         END
     AND (p.action ->> 'channel' <> 'whatsapp' OR (u.whatsapp_opt_in AND u.phone IS NOT NULL))
    WHERE p.kind = 'notify'
), queued AS (
    INSERT INTO notifications (tenant_id, user_id, channel, template, payload, dedup_key, run_id)
    SELECT r.tenant_id, r.user_id, r.channel, r.action ->> 'template',
           jsonb_build_object(
               'rule_id', r.rule_id, 'rule_name', r.rule_name, 'event_type', r.event_type,
               'event', r.payload,
               'task', CASE WHEN r.task_id IS NOT NULL THEN jsonb_build_object(
                           'id', r.task_id, 'title', r.task_title, 'priority', r.task_priority,
                           'status', r.task_status, 'due_date', r.task_due) END,
               'case', CASE WHEN r.case_id IS NOT NULL THEN jsonb_build_object(
                           'id', r.case_id, 'case_number', r.case_number,
                           'title', r.case_title) END),
           r.dedup_key, (SELECT run_id FROM params)
    FROM recipients r
    WHERE r.user_id IS NOT NULL
    ON CONFLICT (tenant_id, channel, dedup_key) DO NOTHING
)
INSERT INTO f_done
SELECT r.event_id, r.rule_id, r.pos,
       jsonb_build_object('recipients', count(r.user_id), 'queued', count(r.user_id))
FROM recipients r
GROUP BY r.event_id, r.rule_id, r.pos;

ANALYZE f_done;

-- one log row per execution, then the events are processed
INSERT INTO automation_logs (tenant_id, rule_id, rule_name, trigger_event, status,
                             actions_executed, error_message, executed_at, event_id, run_id)
SELECT r.tenant_id, r.rule_id, r.name, r.trigger_event, 'success',
       jsonb_agg(a.action || d.detail ORDER BY d.pos), NULL, (SELECT as_of FROM params),
       d.event_id, (SELECT run_id FROM params)
FROM f_done d
JOIN f_actions a ON a.rule_id = d.rule_id AND a.pos = d.pos
JOIN f_rules r ON r.rule_id = d.rule_id
GROUP BY r.tenant_id, r.rule_id, r.name, r.trigger_event, d.event_id;

UPDATE automation_events SET processed_at = (SELECT as_of FROM params)
WHERE processed_at IS NULL;
