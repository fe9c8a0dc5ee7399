"""check-upcoming-deadlines: one consolidated alert per user for the next 24 hours.

Open tasks (not Completed or Cancelled) and Scheduled hearings due in
``(as_of, as_of + 24h]`` are gathered per user. A task counts only if it existed
before ``as_of`` (``created_at < as_of``): the rules this job runs can create
follow-up tasks stamped ``as_of`` and due within the window, and a re-run at the
same moment must not find them, alert on them or emit events for them (nor must a
backfill see tasks created after its moment). Hearings are not filtered so: no
rule creates one, and ``hearings.created_at`` of an upgraded database is the
upgrade's moment, not the hearing's. Tasks go to their assignee,
hearings to the case owner and the assigned advocate (once if the same person),
active users of the tenant only. Each user gets one ``deadline_digest`` (email, and
WhatsApp when configured and the user opted in), its items ordered HIGH PRIORITY
(Critical and High tasks, and hearings) first, then NORMAL PRIORITY, each by due
time. The de-duplication key is per user and tenant-local day of ``as_of``.

Every due task and hearing also becomes one ``deadline_approaching`` event for the
rules engine (``<entity_type>:<id>@<due, UTC>``, so a re-dated item is a new event),
and the engine then runs over the pending events.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Connection, text

from gstjobs.automation import engine as rules
from gstjobs.core import JobContext, Results
from gstjobs.notify.delivery import send_own
from gstjobs.notify.outbox import per_channel

JOB_NAME = "check-upcoming-deadlines"
TEMPLATE = "deadline_digest"
WINDOW = timedelta(hours=24)

_UTC = '\'YYYY-MM-DD"T"HH24:MI:SS"Z"\''

QUEUE_ALERTS = text(
    f"""
    WITH local AS (
        SELECT tn.id AS tenant_id,
               (CAST(:as_of AS timestamptz) AT TIME ZONE tn.timezone)::date AS today
        FROM tenants tn
        WHERE tn.id = ANY(:tenants)
    ), due_tasks AS (
        SELECT t.id, t.tenant_id, t.case_id, t.title, t.priority, t.due_date, t.assigned_to,
               c.case_number
        FROM tasks t
        LEFT JOIN cases c ON c.id = t.case_id AND c.tenant_id = t.tenant_id
        WHERE t.tenant_id = ANY(:tenants)
          AND t.status NOT IN ('Completed', 'Cancelled')
          AND t.due_date > :as_of AND t.due_date <= :until
          AND t.created_at < :as_of
    ), due_hearings AS (
        SELECT h.id, h.tenant_id, h.case_id, h.hearing_date, c.case_number, c.owner_id,
               c.assigned_to,
               concat_ws(', ', COALESCE(ct.name, 'Court not recorded'), NULLIF(ct.city, ''))
                   AS place
        FROM hearings h
        JOIN cases c ON c.id = h.case_id AND c.tenant_id = h.tenant_id
        LEFT JOIN courts ct ON ct.id = h.court_id
        WHERE h.tenant_id = ANY(:tenants)
          AND h.status = 'Scheduled'
          AND h.hearing_date > :as_of AND h.hearing_date <= :until
    ), emitted AS (
        INSERT INTO automation_events (tenant_id, event_type, entity_type, entity_id,
                                       dedup_key, payload, occurred_at, run_id)
        SELECT d.tenant_id, 'deadline_approaching', d.entity_type, d.id,
               d.entity_type || ':' || d.id::text || '@'
                   || to_char(d.due AT TIME ZONE 'UTC', {_UTC}),
               jsonb_strip_nulls(jsonb_build_object(
                   'entity_type', d.entity_type,
                   'entity_id', d.id,
                   'hours_until_due',
                   round((extract(epoch FROM d.due - :as_of) / 3600)::numeric, 1),
                   'case_id', d.case_id,
                   'priority', d.priority,
                   'due_date', d.due)),
               :as_of, CAST(:run_id AS bigint)
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
        {per_channel("digests")}
    ), queued AS (
        INSERT INTO notifications (tenant_id, user_id, channel, template, payload, dedup_key,
                                   run_id, urgency)
        SELECT c.tenant_id, c.user_id, c.channel, CAST(:template AS text),
               jsonb_build_object('date', c.today, 'window_end', CAST(:until AS timestamptz),
                                  'items', c.items),
               CAST(:template AS text) || ':' || c.user_id::text || ':' || c.today::text,
               CAST(:run_id AS bigint),
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
    """
)


def run(conn: Connection, ctx: JobContext) -> Results:
    counts = conn.execute(
        QUEUE_ALERTS,
        {
            "tenants": ctx.tenant_ids,
            "as_of": ctx.as_of,
            "until": ctx.as_of + WINDOW,
            "whatsapp": ctx.settings.whatsapp is not None,
            "template": TEMPLATE,
            "run_id": ctx.run_id,
        },
    ).one()
    fired = rules.process_pending(conn, ctx)
    return {
        "tasksDue": counts.tasks,
        "hearingsDue": counts.hearings,
        "usersAlerted": counts.users,
        "notificationsQueued": counts.queued,
        "duplicatesSkipped": counts.candidates - counts.queued,
        "eventsEmitted": counts.events,
        "rulesTriggered": fired.executed,
        "rulesFailed": fired.failed,
        "rulesSeconds": round(fired.seconds, 3),
    }


send = send_own
"""After the commit: this run's own digests go out at once (the rest is the delivery job's)."""
