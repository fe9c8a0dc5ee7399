-- The floor of `gstjobs run deadline-alerts --as-of AS_OF` (no WhatsApp configured):
-- the job's digests and deadline_approaching events, one statement for every practice
-- (the job's own statement at the time of writing: it is already set-based), then the
-- rules engine's writes in pure SQL (_engine.sql). Run by psql in one transaction:
--   psql -X -q -v ON_ERROR_STOP=1 -1 -v as_of=AS_OF -v run_id=0 -f bench/floors/deadline-alerts.sql
-- If the job's statement changes (its message content), change this with it: the bench's
-- content check says when the two no longer write the same.

CREATE TEMP TABLE params ON COMMIT DROP AS
SELECT CAST(:'as_of' AS timestamptz) AS as_of, CAST(:run_id AS bigint) AS run_id;

SET LOCAL jit = off;  -- as the job does for its statement (see its run())

WITH local AS (
    SELECT tn.id AS tenant_id, tn.timezone,
           (CAST(CAST(:'as_of' AS timestamptz) AS timestamptz) AT TIME ZONE tn.timezone)::date AS today
    FROM tenants tn
    WHERE tn.id = ANY(ARRAY(SELECT id FROM tenants))
), statutory_items AS (
    -- Per user: the practice's own statutory dates due in the next 7 days
    -- ('next_7_days') and those passed but still condonable or passed in the last
    -- 7 days ('overdue'), for the matters the user owns or appears in; admins also
    -- get every hard and condonable one. Binds ARRAY(SELECT id FROM tenants) and CAST(:'as_of' AS timestamptz).
    SELECT DISTINCT ON (x.tenant_id, x.user_id, x.proceeding_id, x.rule_id, x.fy)
           x.tenant_id, x.user_id, x.block, x.proceeding_id, x.case_id, x.case_number,
           x.rule_id, x.fy, x.title, x.due_date, x.days_left, x.outer_date, x.amount,
           x.file_by
    FROM (
        SELECT d.tenant_id, u.id AS user_id,
               CASE WHEN d.status = 'lapsed' THEN 'overdue' ELSE 'next_7_days' END
                   AS block,
               d.proceeding_id, d.case_id, c.case_number, d.rule_id, d.fy, r.title,
               d.due_date, d.due_date - l.today AS days_left, d.outer_date, d.amount,
               CASE WHEN d.status = 'open' AND d.falls_on_holiday
                         AND gstjobs_previous_working_day(d.due_date, p.state_code)
                             >= l.today
                    THEN gstjobs_previous_working_day(d.due_date, p.state_code)
               END AS file_by
        FROM limitation_dates d
        JOIN (SELECT tn.id AS tenant_id,
                     (CAST(CAST(:'as_of' AS timestamptz) AS timestamptz) AT TIME ZONE tn.timezone)::date AS today
              FROM tenants tn WHERE tn.id = ANY(ARRAY(SELECT id FROM tenants))) AS l
          ON l.tenant_id = d.tenant_id
        JOIN proceedings p ON p.id = d.proceeding_id AND p.status = 'open'
        JOIN cases c ON c.id = d.case_id AND c.tenant_id = d.tenant_id
        JOIN limitation_rules r ON r.rule_id = d.rule_id AND r.version = d.rule_version
        JOIN users u ON u.tenant_id = d.tenant_id AND u.is_active
         AND (u.id IN (c.owner_id, COALESCE(p.representative_id, c.assigned_to))
              OR (u.role = 'admin' AND d.kind IN ('hard', 'condonable')))
        WHERE d.tenant_id = ANY(ARRAY(SELECT id FROM tenants))
          AND d.kind IN ('hard', 'condonable', 'officer_extendable')
          AND ((d.status = 'open' AND d.due_date BETWEEN l.today AND l.today + 7)
               OR (d.status = 'lapsed'
                   AND (d.outer_date >= l.today OR d.due_date >= l.today - 7)))
    ) AS x
    ORDER BY x.tenant_id, x.user_id, x.proceeding_id, x.rule_id, x.fy
), due_tasks AS (
    SELECT t.id, t.tenant_id, t.case_id, t.title, t.priority, t.due_date, t.assigned_to
    FROM tasks t
    LEFT JOIN cases c ON c.id = t.case_id AND c.tenant_id = t.tenant_id
    WHERE t.tenant_id = ANY(ARRAY(SELECT id FROM tenants))
      AND t.status NOT IN ('Completed', 'Cancelled')
      AND t.due_date > CAST(:'as_of' AS timestamptz) AND t.due_date <= (CAST(:'as_of' AS timestamptz) + interval '24 hours')
      AND t.created_at < CAST(:'as_of' AS timestamptz)
      AND c.status IS DISTINCT FROM 'Closed'
), overdue_tasks AS (
    -- Open tasks past due, per assignee oldest first; only the first 20
    -- of each person are described (the rest are counted).
    SELECT o.*
    FROM (SELECT t.id, t.tenant_id, t.case_id, t.title, t.priority, t.due_date,
                 t.assigned_to,
                 row_number() OVER (PARTITION BY t.tenant_id, t.assigned_to
                                    ORDER BY t.due_date, t.id) AS rank,
                 count(*) OVER (PARTITION BY t.tenant_id, t.assigned_to) AS total
          FROM tasks t
          LEFT JOIN cases c ON c.id = t.case_id AND c.tenant_id = t.tenant_id
          WHERE t.tenant_id = ANY(ARRAY(SELECT id FROM tenants))
            AND t.status NOT IN ('Completed', 'Cancelled')
            AND t.due_date <= CAST(:'as_of' AS timestamptz)
            AND t.created_at < CAST(:'as_of' AS timestamptz)
            AND t.assigned_to IS NOT NULL
            AND c.status IS DISTINCT FROM 'Closed') AS o
    WHERE o.rank <= 20
), due_hearings AS (
    SELECT h.id, h.tenant_id, h.case_id, h.hearing_date, c.owner_id, c.assigned_to,
           concat_ws(', ', COALESCE(ct.name, 'Court not recorded'), NULLIF(ct.city, ''))
               AS place
    FROM hearings h
    JOIN cases c ON c.id = h.case_id AND c.tenant_id = h.tenant_id
    LEFT JOIN courts ct ON ct.id = h.court_id
    WHERE h.tenant_id = ANY(ARRAY(SELECT id FROM tenants))
      AND h.status = 'Scheduled'
      AND c.status <> 'Closed'
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
    SELECT t.tenant_id, t.assigned_to AS user_id, 'due' AS section, 'task' AS kind, t.id,
           t.title, t.priority, t.due_date AS due, t.priority IN ('Critical', 'High') AS high,
           t.case_id, CAST(NULL AS bigint) AS total
    FROM due_tasks t
    WHERE t.assigned_to IS NOT NULL
    UNION ALL
    SELECT DISTINCT h.tenant_id, r.user_id, 'due', 'hearing', h.id, h.place,
           CAST(NULL AS text), h.hearing_date, true, h.case_id, CAST(NULL AS bigint)
    FROM due_hearings h
    CROSS JOIN LATERAL (VALUES (h.owner_id), (h.assigned_to)) AS r (user_id)
    WHERE r.user_id IS NOT NULL
    UNION ALL
    SELECT o.tenant_id, o.assigned_to, 'overdue', 'task', o.id, o.title, o.priority,
           o.due_date, o.priority IN ('Critical', 'High'), o.case_id, o.total
    FROM overdue_tasks o
), entries AS (
    -- Each line of each digest with what a partner needs to place it: the client,
    -- the matter's reference and its forum (the next hearing's, else the authority
    -- of the matter's current proceeding, else the last hearing's).
    SELECT i.tenant_id, i.user_id, i.section, i.kind, i.id, i.due, i.high, i.total,
           jsonb_strip_nulls(jsonb_build_object(
               'kind', i.kind, 'id', i.id, 'title', i.title, 'priority', i.priority,
               'due', i.due, 'high', i.high, 'case_id', i.case_id,
               'case_number', c.case_number,
               'days_overdue', CASE WHEN i.section = 'overdue'
                                    THEN l.today - (i.due AT TIME ZONE l.timezone)::date
                               END,
               'client', x.name,
               'reference', COALESCE(p.reference_no, p.din),
               'forum', CASE WHEN i.kind = 'task' AND hh.upcoming THEN hh.place
                             WHEN i.kind = 'task' THEN COALESCE(p.authority, hh.place)
                        END)) AS obj
    FROM items i
    JOIN local l ON l.tenant_id = i.tenant_id
    LEFT JOIN cases c ON c.id = i.case_id AND c.tenant_id = i.tenant_id
    LEFT JOIN clients x ON x.id = c.client_id AND x.tenant_id = c.tenant_id
    LEFT JOIN LATERAL (
        SELECT q.reference_no, q.din, q.authority FROM proceedings q
        WHERE q.case_id = c.id AND q.tenant_id = c.tenant_id
        ORDER BY q.status = 'open' DESC, q.issue_date DESC, q.created_at DESC
        LIMIT 1
    ) AS p ON true
    -- One hearing per task's case, by the case's index alone (OFFSET 0 keeps the
    -- tenant and date conditions out of the scan: with them the planner walked the
    -- practice's hearings by date, 20 s at 1M tasks): the next scheduled, else the
    -- latest.
    LEFT JOIN LATERAL (
        SELECT concat_ws(', ', ct.name, NULLIF(ct.city, '')) AS place,
               h.status = 'Scheduled' AND h.hearing_date > CAST(:'as_of' AS timestamptz) AS upcoming
        FROM (SELECT * FROM hearings h0 WHERE h0.case_id = c.id OFFSET 0) AS h
        JOIN courts ct ON ct.id = h.court_id
        WHERE i.kind = 'task' AND h.tenant_id = c.tenant_id
        ORDER BY h.status = 'Scheduled' AND h.hearing_date > CAST(:'as_of' AS timestamptz) DESC,
                 CASE WHEN h.status = 'Scheduled' AND h.hearing_date > CAST(:'as_of' AS timestamptz)
                      THEN h.hearing_date END,
                 h.hearing_date DESC
        LIMIT 1
    ) AS hh ON true
    UNION ALL
    SELECT s.tenant_id, s.user_id, 'statutory', s.block, s.proceeding_id,
           s.due_date::timestamptz, s.block = 'overdue', NULL,
           jsonb_strip_nulls(jsonb_build_object(
               'block', s.block, 'title', s.title, 'case_id', s.case_id,
               'case_number', s.case_number, 'rule_id', s.rule_id,
               'fy', NULLIF(s.fy, '*'), 'due_date', s.due_date, 'days_left', s.days_left,
               'file_by', s.file_by,
               'outer_date', s.outer_date,
               'amount', CASE WHEN s.amount > 0 THEN gstjobs_inr(s.amount) END,
               'client', (SELECT x.name FROM cases c
                          JOIN clients x ON x.id = c.client_id AND x.tenant_id = c.tenant_id
                          WHERE c.id = s.case_id)))
    FROM statutory_items s
), digests AS (
    SELECT e.tenant_id, e.user_id, l.today, u.email, u.phone, u.whatsapp_opt_in,
           COALESCE(jsonb_agg(e.obj ORDER BY e.high DESC, e.due, e.kind DESC, e.id)
                        FILTER (WHERE e.section = 'due'), '[]') AS items,
           COALESCE(jsonb_agg(e.obj ORDER BY e.due, e.id)
                        FILTER (WHERE e.section = 'overdue'), '[]') AS overdue,
           COALESCE(max(e.total) FILTER (WHERE e.section = 'overdue'), 0) AS overdue_total,
           COALESCE(jsonb_agg(e.obj ORDER BY e.high DESC, e.due, e.obj ->> 'case_number',
                                       e.obj ->> 'rule_id', e.obj ->> 'fy')
                        FILTER (WHERE e.section = 'statutory'), '[]') AS statutory
    FROM entries e
    JOIN users u ON u.id = e.user_id AND u.tenant_id = e.tenant_id AND u.is_active
    JOIN local l ON l.tenant_id = e.tenant_id
    GROUP BY e.tenant_id, e.user_id, l.today, u.email, u.phone, u.whatsapp_opt_in
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
                              'items', c.items, 'overdue', c.overdue,
                              'overdue_total', c.overdue_total,
                              'statutory', c.statutory),
           CAST('deadline_digest' AS text) || ':' || c.user_id::text || ':' || c.today::text,
           CAST(0 AS bigint),
           2  -- the morning's deadlines: urgent, even in quiet hours
    FROM candidates c
    ON CONFLICT (tenant_id, channel, dedup_key) DO NOTHING
    RETURNING tenant_id, user_id
)
SELECT (SELECT count(*) FROM due_tasks) AS tasks,
       (SELECT count(*) FROM due_hearings) AS hearings,
       (SELECT count(*) FROM overdue_tasks WHERE rank = 1) AS people_overdue,
       (SELECT COALESCE(sum(total), 0)::bigint FROM overdue_tasks WHERE rank = 1) AS overdue,
       (SELECT count(*) FROM statutory_items) AS statutory,
       (SELECT count(*) FROM emitted) AS events,
       (SELECT count(DISTINCT (tenant_id, user_id)) FROM queued) AS users,
       (SELECT count(*) FROM candidates) AS candidates,
       (SELECT count(*) FROM queued) AS queued

;

RESET jit;  -- the engine's statements run as configured, as in the job

\echo ENGINE
\ir _engine.sql
