"""send-hearing-reminders: queue a reminder for every Scheduled hearing today or tomorrow.

"Today or tomorrow" is read in each tenant's timezone relative to ``as_of``: the
window is [local midnight today, local midnight the day after tomorrow). The seed's
``hearing_date BETWEEN now AND now + 1 day`` missed hearings later tomorrow (the
08:00 run never covered tomorrow afternoon) and included none earlier today.

Recipients are the case owner and the assigned advocate, one message if they are the
same person, active users of the hearing's tenant only. Each gets an email (when they
have an address) and, when WhatsApp is configured, a WhatsApp message if they opted
in and have a phone. Everything is queued in the outbox by one INSERT … SELECT in
the job's transaction; the runner delivers after commit. The de-duplication key is
per hearing (and its date, so a rescheduled hearing is reminded again), recipient,
channel and tenant-local day of ``as_of``: a hearing is reminded the day before and
on the day, and a re-run the same day queues nothing. Unlike deadline-alerts, this
job runs no rules and creates nothing it could find again, so hearings are not
filtered by ``created_at`` (which an upgraded database sets to the upgrade's
moment, and a backfill would then miss). There is no per-run hearing
limit: the seed's 100 applies to sending (Settings.notify_cap), and what is over it
stays queued for the next delivery.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from gstjobs.core import JobContext, Results
from gstjobs.notify.delivery import send_own
from gstjobs.notify.outbox import per_channel

JOB_NAME = "send-hearing-reminders"
TEMPLATE = "hearing_reminder"

QUEUE_REMINDERS = text(
    """
    WITH local AS (
        SELECT tn.id AS tenant_id, tn.timezone,
               (CAST(:as_of AS timestamptz) AT TIME ZONE tn.timezone)::date AS today
        FROM tenants tn
        WHERE tn.id = ANY(:tenants)
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
        WHERE h.tenant_id = ANY(:tenants)
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
        {CANDIDATES}
    ), queued AS (
        INSERT INTO notifications (tenant_id, user_id, channel, template, payload, dedup_key,
                                   run_id, urgency)
        SELECT c.tenant_id, c.user_id, c.channel, CAST(:template AS text), c.payload,
               CAST(:template AS text) || ':' || c.hearing_id::text || '@'
                   || to_char(c.hearing_date AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                   || ':' || c.user_id::text || ':' || c.today::text,
               CAST(:run_id AS bigint),
               -- a hearing today goes even in quiet hours; tomorrow's waits, but goes first
               CASE WHEN c.on_the_day THEN 2 ELSE 1 END
        FROM candidates c
        ON CONFLICT (tenant_id, channel, dedup_key) DO NOTHING
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM found) AS hearings,
           (SELECT count(*) FROM candidates) AS candidates,
           (SELECT count(*) FROM queued) AS queued
    """.replace("{CANDIDATES}", per_channel("recipients"))
)


def run(conn: Connection, ctx: JobContext) -> Results:
    counts = conn.execute(
        QUEUE_REMINDERS,
        {
            "tenants": ctx.tenant_ids,
            "as_of": ctx.as_of,
            "whatsapp": ctx.settings.whatsapp is not None,
            "template": TEMPLATE,
            "run_id": ctx.run_id,
        },
    ).one()
    return {
        "hearingsFound": counts.hearings,
        "notificationsQueued": counts.queued,
        "duplicatesSkipped": counts.candidates - counts.queued,
    }


send = send_own
"""After the commit: this run's own reminders go out at once (the rest is the delivery job's)."""
