-- The floor of `gstjobs run sla-check --as-of AS_OF`: the same observable writes for every
-- practice in pure SQL, run by psql in one transaction:
--   psql -X -q -v ON_ERROR_STOP=1 -1 -v as_of=AS_OF -v grace_minutes=15 -v run_id=0 \
--        -f bench/floors/sla-check.sql
-- Flags (clear, overdue, SLA) with their events and audit rows, then the rules engine's
-- writes (_engine.sql). Default SLA hours as gstjobs.sla.DEFAULT_SLA_HOURS.

CREATE TEMP TABLE params ON COMMIT DROP AS
SELECT CAST(:'as_of' AS timestamptz) AS as_of,
       CAST(:'as_of' AS timestamptz) - make_interval(mins => :grace_minutes) AS threshold,
       CAST(:run_id AS bigint) AS run_id;

CREATE TEMP TABLE policy ON COMMIT DROP AS
SELECT tn.id AS tenant_id, d.priority, coalesce(sp.resolution_hours, d.hours) AS hours
FROM tenants tn
CROSS JOIN (VALUES ('Critical', 24), ('High', 72), ('Medium', 168), ('Low', 336)) AS d (priority, hours)
LEFT JOIN sla_policies sp ON sp.tenant_id = tn.id AND sp.priority = d.priority;

ANALYZE policy;

-- Clear flags that no longer hold: done, re-dated, SLA-breached (few), closed matter;
-- each candidate set through its partial index, then the exact test.
WITH candidate AS (
    SELECT t.id FROM tasks t
    WHERE (t.is_overdue OR t.sla_breached) AND t.status IN ('Completed', 'Cancelled')
    UNION
    SELECT t.id FROM tasks t
    WHERE t.is_overdue AND (t.due_date >= (SELECT threshold FROM params) OR t.due_date IS NULL)
    UNION
    SELECT t.id FROM tasks t WHERE t.sla_breached
    UNION
    SELECT t.id FROM cases c JOIN tasks t ON t.case_id = c.id AND t.tenant_id = c.tenant_id
    WHERE c.status = 'Closed' AND (t.is_overdue OR t.sla_breached)
), k AS (
    SELECT t.id,
           coalesce(c.status = 'Closed', false) AS closed,
           t.status NOT IN ('Completed', 'Cancelled') AS open,
           t.due_date < (SELECT threshold FROM params) AND isfinite(t.due_date) AS past_due,
           t.status = 'Pending' AND t.started_at IS NULL AND t.due_date IS NULL
               AND t.created_at + make_interval(hours => p.hours) < (SELECT as_of FROM params)
               AS unstarted_late,
           t.overdue_since > (SELECT as_of FROM params) AS overdue_later,
           t.sla_breached_at > (SELECT as_of FROM params) AS breached_later,
           t.status = 'Pending' AND t.started_at IS NULL AND t.due_date IS NULL AS unstarted
    FROM candidate x
    JOIN tasks t ON t.id = x.id
    JOIN policy p ON p.tenant_id = t.tenant_id AND p.priority = t.priority
    LEFT JOIN cases c ON c.id = t.case_id
), v AS (
    SELECT k.id,
           NOT k.closed AND k.open
               AND (coalesce(k.past_due, false) OR coalesce(k.overdue_later, false)) AS keep_overdue,
           NOT k.closed AND k.unstarted
               AND (k.unstarted_late OR coalesce(k.breached_later, false)) AS keep_breach
    FROM k
)
UPDATE tasks t
SET is_overdue = t.is_overdue AND v.keep_overdue,
    overdue_since = CASE WHEN t.is_overdue AND v.keep_overdue THEN t.overdue_since END,
    sla_breached = t.sla_breached AND v.keep_breach,
    sla_breached_at = CASE WHEN t.sla_breached AND v.keep_breach THEN t.sla_breached_at END
FROM v
WHERE t.id = v.id
  AND ((t.is_overdue AND NOT v.keep_overdue) OR (t.sla_breached AND NOT v.keep_breach));

-- Newly overdue: flag, one event per episode, one audit row each.
WITH newly AS (
    UPDATE tasks t SET is_overdue = true, overdue_since = (SELECT as_of FROM params)
    WHERE NOT t.is_overdue AND t.status NOT IN ('Completed', 'Cancelled')
      AND t.due_date < (SELECT threshold FROM params) AND isfinite(t.due_date)
      AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.id = t.case_id AND c.status = 'Closed')
    RETURNING t.id, t.tenant_id, t.case_id, t.priority, t.due_date
), emitted AS (
    INSERT INTO automation_events (tenant_id, event_type, entity_type, entity_id, dedup_key,
                                   payload, occurred_at, run_id)
    SELECT n.tenant_id, 'task_overdue', 'task', n.id,
           n.id::text || '@' || to_char(n.due_date AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
           jsonb_build_object(
               'task_id', n.id, 'case_id', n.case_id,
               'days_overdue', ((SELECT as_of FROM params) AT TIME ZONE tn.timezone)::date
                               - (n.due_date AT TIME ZONE tn.timezone)::date,
               'hours_overdue',
               round((extract(epoch FROM (SELECT as_of FROM params) - n.due_date) / 3600)::numeric, 1),
               'priority', n.priority, 'due_date', n.due_date),
           (SELECT as_of FROM params), (SELECT run_id FROM params)
    FROM newly n JOIN tenants tn ON tn.id = n.tenant_id
    ON CONFLICT (tenant_id, event_type, dedup_key) DO NOTHING
    RETURNING tenant_id, entity_id, payload
)
INSERT INTO audit_log (tenant_id, action_type, entity_type, entity_id, details)
SELECT e.tenant_id, 'task_overdue', 'task', e.entity_id,
       e.payload || jsonb_build_object('job_name', 'check-sla-and-overdue',
                                       'run_id', (SELECT run_id FROM params))
FROM emitted e;

-- New SLA breaches (time to first action): flag, one event per task, one audit row each.
WITH breached AS (
    UPDATE tasks t SET sla_breached = true, sla_breached_at = (SELECT as_of FROM params)
    FROM policy p
    WHERE p.tenant_id = t.tenant_id AND p.priority = t.priority
      AND NOT t.sla_breached AND t.status = 'Pending' AND t.started_at IS NULL
      AND t.due_date IS NULL
      AND t.created_at + make_interval(hours => p.hours) < (SELECT as_of FROM params)
      AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.id = t.case_id AND c.status = 'Closed')
    RETURNING t.id, t.tenant_id, t.case_id, t.priority, t.created_at, p.hours
), emitted AS (
    INSERT INTO automation_events (tenant_id, event_type, entity_type, entity_id, dedup_key,
                                   payload, occurred_at, run_id)
    SELECT b.tenant_id, 'sla_violation', 'task', b.id, b.id::text,
           jsonb_build_object(
               'task_id', b.id, 'case_id', b.case_id, 'priority', b.priority,
               'sla_threshold', b.hours,
               'actual_time',
               round((extract(epoch FROM (SELECT as_of FROM params) - b.created_at) / 3600)::numeric, 1)),
           (SELECT as_of FROM params), (SELECT run_id FROM params)
    FROM breached b
    ON CONFLICT (tenant_id, event_type, dedup_key) DO NOTHING
    RETURNING tenant_id, entity_id, payload
)
INSERT INTO audit_log (tenant_id, action_type, entity_type, entity_id, details)
SELECT e.tenant_id, 'sla_violation', 'task', e.entity_id,
       e.payload || jsonb_build_object('job_name', 'check-sla-and-overdue',
                                       'run_id', (SELECT run_id FROM params))
FROM emitted e;

\echo ENGINE
\ir _engine.sql
