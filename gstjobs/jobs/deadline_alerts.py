"""check-upcoming-deadlines: the morning digest, one per user.

Per user, in blocks: the statutory dates of the user's matters from the limitation
register (``limitation.register.STATUTORY_ITEMS_CTE``: passed but still condonable,
and due in the next 7 days), then Overdue (open tasks past due, oldest first, with
days overdue; the first OVERDUE_ITEMS described, all counted), then what falls due in
``(as_of, as_of + 24h]``: open tasks (not Completed or Cancelled) and Scheduled
hearings, HIGH PRIORITY (Critical and High tasks, and hearings) first, then NORMAL
PRIORITY, each by due time. Each item names the client, the matter (case number and
the current proceeding's reference) and the forum. Tasks and hearings of Closed cases
are left alone. A task counts only if it existed before ``as_of`` (``created_at <
as_of``): the rules this job runs can create follow-up tasks stamped ``as_of`` and due
within the window, and a re-run at the same moment must not find them, alert on them
or emit events for them (nor must a backfill see tasks created after its moment).
Hearings are not filtered so: no rule creates one, and ``hearings.created_at`` of an
upgraded database is the upgrade's moment, not the hearing's. Tasks go to their
assignee, hearings to the case owner and the assigned advocate (once if the same
person), active users of the tenant only. Each user with anything to read gets one
``deadline_digest`` (email, and WhatsApp when configured and the user opted in); the
de-duplication key is per user and tenant-local day of ``as_of``.

Every task and hearing due in the window also becomes one ``deadline_approaching``
event for the rules engine (``<entity_type>:<id>@<due, UTC>``, so a re-dated item is a
new event), and the engine then runs over the pending events. Overdue tasks raise no
event here: they are sla-check's.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Connection, text

from gstjobs.automation import engine as rules
from gstjobs.core import JobContext, Results
from gstjobs.limitation.register import STATUTORY_ITEMS_CTE
from gstjobs.notify.delivery import send_own
from gstjobs.notify.outbox import per_channel

JOB_NAME = "check-upcoming-deadlines"
TEMPLATE = "deadline_digest"
WINDOW = timedelta(hours=24)
OVERDUE_ITEMS = 20
"""Overdue tasks described per person, oldest first; the digest counts the rest."""

_UTC = '\'YYYY-MM-DD"T"HH24:MI:SS"Z"\''

QUEUE_ALERTS = text(
    f"""
    WITH local AS (
        SELECT tn.id AS tenant_id, tn.timezone,
               (CAST(:as_of AS timestamptz) AT TIME ZONE tn.timezone)::date AS today
        FROM tenants tn
        WHERE tn.id = ANY(:tenants)
    ), {STATUTORY_ITEMS_CTE.strip()}, due_tasks AS (
        SELECT t.id, t.tenant_id, t.case_id, t.title, t.priority, t.due_date, t.assigned_to
        FROM tasks t
        LEFT JOIN cases c ON c.id = t.case_id AND c.tenant_id = t.tenant_id
        WHERE t.tenant_id = ANY(:tenants)
          AND t.status NOT IN ('Completed', 'Cancelled')
          AND t.due_date > :as_of AND t.due_date <= :until
          AND t.created_at < :as_of
          AND c.status IS DISTINCT FROM 'Closed'
    ), overdue_tasks AS (
        -- Open tasks past due, per assignee oldest first; only the first :overdue_items
        -- of each person are described (the rest are counted).
        SELECT o.*
        FROM (SELECT t.id, t.tenant_id, t.case_id, t.title, t.priority, t.due_date,
                     t.assigned_to,
                     row_number() OVER (PARTITION BY t.tenant_id, t.assigned_to
                                        ORDER BY t.due_date, t.id) AS rank,
                     count(*) OVER (PARTITION BY t.tenant_id, t.assigned_to) AS total
              FROM tasks t
              LEFT JOIN cases c ON c.id = t.case_id AND c.tenant_id = t.tenant_id
              WHERE t.tenant_id = ANY(:tenants)
                AND t.status NOT IN ('Completed', 'Cancelled')
                AND t.due_date <= :as_of AND isfinite(t.due_date)
                AND t.created_at < :as_of
                AND t.assigned_to IS NOT NULL
                AND c.status IS DISTINCT FROM 'Closed') AS o
        WHERE o.rank <= :overdue_items
    ), due_hearings AS (
        SELECT h.id, h.tenant_id, h.case_id, h.hearing_date, c.owner_id, c.assigned_to,
               concat_ws(', ', COALESCE(ct.name, 'Court not recorded'), NULLIF(ct.city, ''))
                   AS place
        FROM hearings h
        JOIN cases c ON c.id = h.case_id AND c.tenant_id = h.tenant_id
        LEFT JOIN courts ct ON ct.id = h.court_id
        WHERE h.tenant_id = ANY(:tenants)
          AND h.status = 'Scheduled'
          AND c.status <> 'Closed'
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
                   h.status = 'Scheduled' AND h.hearing_date > :as_of AS upcoming
            FROM (SELECT * FROM hearings h0 WHERE h0.case_id = c.id OFFSET 0) AS h
            JOIN courts ct ON ct.id = h.court_id
            WHERE i.kind = 'task' AND h.tenant_id = c.tenant_id
            ORDER BY h.status = 'Scheduled' AND h.hearing_date > :as_of DESC,
                     CASE WHEN h.status = 'Scheduled' AND h.hearing_date > :as_of
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
        {per_channel("digests")}
    ), queued AS (
        INSERT INTO notifications (tenant_id, user_id, channel, template, payload, dedup_key,
                                   run_id, urgency)
        SELECT c.tenant_id, c.user_id, c.channel, CAST(:template AS text),
               jsonb_build_object('date', c.today, 'window_end', CAST(:until AS timestamptz),
                                  'items', c.items, 'overdue', c.overdue,
                                  'overdue_total', c.overdue_total,
                                  'statutory', c.statutory),
               CAST(:template AS text) || ':' || c.user_id::text || ':' || c.today::text,
               CAST(:run_id AS bigint),
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
    """
)


JIT_OFF = text("SELECT current_setting('jit') AS was, set_config('jit', 'off', true)")
JIT_BACK = text("SELECT set_config('jit', :jit, true)")


def run(conn: Connection, ctx: JobContext) -> Results:
    # One long expression over many rows: PostgreSQL's JIT spent ~8 s compiling it at
    # 1M tasks (EXPLAIN ANALYZE) to save well under a second. Off for this statement
    # only; the rules engine after it runs as configured.
    jit = conn.execute(JIT_OFF).scalar_one()
    counts = conn.execute(
        QUEUE_ALERTS,
        {
            "tenants": ctx.tenant_ids,
            "as_of": ctx.as_of,
            "until": ctx.as_of + WINDOW,
            "overdue_items": OVERDUE_ITEMS,
            "whatsapp": ctx.settings.whatsapp is not None,
            "template": TEMPLATE,
            "run_id": ctx.run_id,
        },
    ).one()
    conn.execute(JIT_BACK, {"jit": jit})
    fired = rules.process_pending(conn, ctx)
    return {
        "tasksDue": counts.tasks,
        "hearingsDue": counts.hearings,
        "tasksOverdue": counts.overdue,
        "statutoryDates": counts.statutory,
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
