-- The floor of `gstjobs run deadline-alerts --as-of AS_OF` (no WhatsApp configured):
-- the job's digests and deadline_approaching events, one statement for every practice
-- (the job's own statement at the time of writing: it is already set-based), then the
-- rules engine's writes in pure SQL (_engine.sql). Run by psql in one transaction:
--   psql -X -q -v ON_ERROR_STOP=1 -1 -v as_of=AS_OF -v run_id=0 -f bench/floors/deadline-alerts.sql
-- If the job's statement changes (its message content), change this with it: the bench's
-- content check says when the two no longer write the same.

CREATE TEMP TABLE params ON COMMIT DROP AS
SELECT CAST(:'as_of' AS timestamptz) AS as_of, CAST(:run_id AS bigint) AS run_id;

WITH local AS (
    SELECT tn.id AS tenant_id,
           (CAST(CAST(:'as_of' AS timestamptz) AS timestamptz) AT TIME ZONE tn.timezone)::date AS today
    FROM tenants tn
    WHERE tn.id = ANY(ARRAY(SELECT id FROM tenants))
), due_tasks AS (
    SELECT t.id, t.tenant_id, t.case_id, t.title, t.priority, t.due_date, t.assigned_to,
           c.case_number
    FROM tasks t
    LEFT JOIN cases c ON c.id = t.case_id AND c.tenant_id = t.tenant_id
    WHERE t.tenant_id = ANY(ARRAY(SELECT id FROM tenants))
      AND t.status NOT IN ('Completed', 'Cancelled')
      AND t.due_date > CAST(:'as_of' AS timestamptz) AND t.due_date <= (CAST(:'as_of' AS timestamptz) + interval '24 hours')
      AND t.created_at < CAST(:'as_of' AS timestamptz)
), due_hearings AS (
    SELECT h.id, h.tenant_id, h.case_id, h.hearing_date, c.case_number, c.owner_id,
           c.assigned_to,
           concat_ws(', ', COALESCE(ct.name, 'Court not recorded'), NULLIF(ct.city, ''))
               AS place
    FROM hearings h
    JOIN cases c ON c.id = h.case_id AND c.tenant_id = h.tenant_id
    LEFT JOIN courts ct ON ct.id = h.court_id
    WHERE h.tenant_id = ANY(ARRAY(SELECT id FROM tenants))
      AND h.status = 'Scheduled'
      AND h.hearing_date > CAST(:'as_of' AS timestamptz) AND h.hearing_date <= (CAST(:'as_of' AS timestamptz) + interval '24 hours')
), emitted AS (
    INSERT INTO automation_events (tenant_id, event_type, entity_type, entity_id,
                                   dedup_key, payload, occurred_at, run_id)
    SELECT d.tenant_id, 'deadline_approaching', d.entity_type, d.id,
           d.entity_type || ':' || d.id::text || '@'
               || to_char(d.due AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
           jsonb_strip_nulls(jsonb_build_object(
               'entity_type', d.entity_type,
               'entity_id', d.id,
               'hours_until_due',
               round((extract(epoch FROM d.due - CAST(:'as_of' AS timestamptz)) / 3600)::numeric, 1),
               'case_id', d.case_id,
               'priority', d.priority,
               'due_date', d.due)),
           CAST(:'as_of' AS timestamptz), CAST(0 AS bigint)
    FROM (SELECT 'task' AS entity_type, id, tenant_id, case_id, priority, due_date AS due
          FROM due_tasks
          UNION ALL
          SELECT 'hearing', id, tenant_id, case_id, NULL, hearing_date
          FROM due_hearings) AS d
    ON CONFLICT (tenant_id, event_type, dedup_key) DO NOTHING
    RETURNING 1
), items AS (
    SELECT t.tenant_id, t.assigned_to AS user_id, 'task' AS kind, t.id, t.title,
           t.priority, t.due_date AS due, t.priority IN ('Critical', 'High') AS high,
           t.case_id, t.case_number
    FROM due_tasks t
    WHERE t.assigned_to IS NOT NULL
    UNION
    SELECT h.tenant_id, r.user_id, 'hearing', h.id, h.place, CAST(NULL AS text),
           h.hearing_date, true, h.case_id, h.case_number
    FROM due_hearings h
    CROSS JOIN LATERAL (VALUES (h.owner_id), (h.assigned_to)) AS r (user_id)
    WHERE r.user_id IS NOT NULL
), digests AS (
    SELECT i.tenant_id, i.user_id, l.today, u.email, u.phone, u.whatsapp_opt_in,
           jsonb_agg(jsonb_build_object(
               'kind', i.kind, 'id', i.id, 'title', i.title, 'priority', i.priority,
               'due', i.due, 'high', i.high, 'case_id', i.case_id,
               'case_number', i.case_number)
               ORDER BY i.high DESC, i.due, i.kind DESC, i.id) AS items
    FROM items i
    JOIN users u ON u.id = i.user_id AND u.tenant_id = i.tenant_id AND u.is_active
    JOIN local l ON l.tenant_id = i.tenant_id
    GROUP BY i.tenant_id, i.user_id, l.today, u.email, u.phone, u.whatsapp_opt_in
), candidates AS (
    
    SELECT s.*, ch.channel
    FROM digests s
    CROSS JOIN (VALUES ('email'), ('whatsapp')) AS ch (channel)
    WHERE (ch.channel = 'email' AND s.email IS NOT NULL)
       OR (ch.channel = 'whatsapp' AND CAST(false AS boolean)
           AND s.whatsapp_opt_in AND s.phone IS NOT NULL)

), queued AS (
    INSERT INTO notifications (tenant_id, user_id, channel, template, payload, dedup_key,
                               run_id, urgency)
    SELECT c.tenant_id, c.user_id, c.channel, CAST('deadline_digest' AS text),
           jsonb_build_object('date', c.today, 'window_end', CAST((CAST(:'as_of' AS timestamptz) + interval '24 hours') AS timestamptz),
                              'items', c.items),
           CAST('deadline_digest' AS text) || ':' || c.user_id::text || ':' || c.today::text,
           CAST(0 AS bigint),
           2  -- deadlines within 24 hours: urgent, even in quiet hours
    FROM candidates c
    ON CONFLICT (tenant_id, channel, dedup_key) DO NOTHING
    RETURNING tenant_id, user_id
)
SELECT (SELECT count(*) FROM due_tasks) AS tasks,
       (SELECT count(*) FROM due_hearings) AS hearings,
       (SELECT count(*) FROM emitted) AS events,
       (SELECT count(DISTINCT (tenant_id, user_id)) FROM queued) AS users,
       (SELECT count(*) FROM candidates) AS candidates,
       (SELECT count(*) FROM queued) AS queued
;

\echo ENGINE
\ir _engine.sql
