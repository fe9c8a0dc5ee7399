-- The floor of `gstjobs run hearing-reminders --as-of AS_OF` (no WhatsApp configured):
-- every practice's reminders in one statement (the job's own, at the time of writing: it
-- is already set-based, so this ratio is the job's overhead around it). Run by psql:
--   psql -X -q -v ON_ERROR_STOP=1 -1 -v as_of=AS_OF -f bench/floors/hearing-reminders.sql
-- If the job's statement changes (its message content), change this with it: the bench's
-- content check says when the two no longer write the same.

WITH local AS (
    SELECT tn.id AS tenant_id, tn.timezone,
           (CAST(CAST(:'as_of' AS timestamptz) AS timestamptz) AT TIME ZONE tn.timezone)::date AS today
    FROM tenants tn
    WHERE tn.id = ANY(ARRAY(SELECT id FROM tenants))
), found AS (
    SELECT h.id, h.tenant_id, h.case_id, h.hearing_date, h.purpose, l.today,
           h.hearing_date < ((l.today + 1)::timestamp AT TIME ZONE l.timezone) AS on_the_day,
           c.case_number, c.title AS case_title, c.owner_id, c.assigned_to,
           COALESCE(ct.name, 'Court not recorded') AS court_name,
           COALESCE(ct.city, '') AS court_city
    FROM hearings h
    JOIN local l ON l.tenant_id = h.tenant_id
    JOIN cases c ON c.id = h.case_id AND c.tenant_id = h.tenant_id
    LEFT JOIN courts ct ON ct.id = h.court_id
    WHERE h.tenant_id = ANY(ARRAY(SELECT id FROM tenants))
      AND h.status = 'Scheduled'
      AND h.hearing_date >= (l.today::timestamp AT TIME ZONE l.timezone)
      AND h.hearing_date < ((l.today + 2)::timestamp AT TIME ZONE l.timezone)
), recipients AS (
    -- Everything a message needs is carried along here, so that the INSERT below
    -- never joins two CTEs: the planner cannot estimate their sizes and would pick
    -- a nested loop that is quadratic in the number of hearings.
    SELECT f.tenant_id, f.id AS hearing_id, f.hearing_date, f.today, f.on_the_day,
           u.id AS user_id, u.email, u.phone, u.whatsapp_opt_in,
           jsonb_build_object(
               'hearing_id', f.id,
               'case_id', f.case_id,
               'case_number', f.case_number,
               'case_title', f.case_title,
               'court_name', f.court_name,
               'court_city', f.court_city,
               'hearing_date', f.hearing_date,
               'purpose', f.purpose,
               'roles', to_jsonb(array_agg(r.role ORDER BY r.ord))) AS payload
    FROM found f
    CROSS JOIN LATERAL (VALUES (f.owner_id, 'owner', 1),
                               (f.assigned_to, 'assigned advocate', 2))
                       AS r (user_id, role, ord)
    JOIN users u ON u.id = r.user_id AND u.tenant_id = f.tenant_id AND u.is_active
    GROUP BY f.id, f.tenant_id, f.case_id, f.case_number, f.case_title, f.court_name,
             f.court_city, f.hearing_date, f.purpose, f.today, f.on_the_day, u.id
), candidates AS (
    
    SELECT s.*, ch.channel
    FROM recipients s
    CROSS JOIN (VALUES ('email'), ('whatsapp')) AS ch (channel)
    WHERE (ch.channel = 'email' AND s.email IS NOT NULL)
       OR (ch.channel = 'whatsapp' AND CAST(false AS boolean)
           AND s.whatsapp_opt_in AND s.phone IS NOT NULL)

), queued AS (
    INSERT INTO notifications (tenant_id, user_id, channel, template, payload, dedup_key,
                               run_id, urgency)
    SELECT c.tenant_id, c.user_id, c.channel, CAST('hearing_reminder' AS text), c.payload,
           CAST('hearing_reminder' AS text) || ':' || c.hearing_id::text || '@'
               || to_char(c.hearing_date AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
               || ':' || c.user_id::text || ':' || c.today::text,
           CAST(0 AS bigint),
           -- a hearing today goes even in quiet hours; tomorrow's waits, but goes first
           CASE WHEN c.on_the_day THEN 2 ELSE 1 END
    FROM candidates c
    ON CONFLICT (tenant_id, channel, dedup_key) DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM found) AS hearings,
       (SELECT count(*) FROM candidates) AS candidates,
       (SELECT count(*) FROM queued) AS queued
;
