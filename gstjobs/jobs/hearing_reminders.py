"""send-hearing-reminders: queue a reminder for every Scheduled hearing today or tomorrow.

"Today or tomorrow" is read in each tenant's timezone relative to ``as_of``: the
window is [local midnight today, local midnight the day after tomorrow). The seed's
``hearing_date BETWEEN now AND now + 1 day`` missed hearings later tomorrow (the
08:00 run never covered tomorrow afternoon) and included none earlier today.
Hearings of Closed cases are left alone.

Recipients are the case owner, the appearing representative (the hearing's, else the
proceeding's, else the case's assigned advocate) and the assigned advocate, once per
person, active users of the hearing's tenant only. Each gets an email (when they
have an address) and, when WhatsApp is configured, a WhatsApp message if they opted
in and have a phone. The payload carries what the advocate needs at 8 am, gathered
for all hearings in the same statement: the client and GSTIN, the proceeding heard
(its reference, kind, and the financial years, demand section and tax of it or the
order or notice behind it), the forum's address and level, who appears and the
adjournments used; ``notify.practice`` words them and picks the checklist. Facts the
database does not hold are left out of the payload (and so of the message).

Everything is queued in the outbox by one INSERT … SELECT in the job's transaction;
the runner delivers after commit. The de-duplication key is per hearing (and its
date, so a rescheduled hearing is reminded again), recipient, channel and
tenant-local day of ``as_of``: a hearing is reminded the day before and on the day,
and a re-run the same day queues nothing. Unlike deadline-alerts, this job runs no
rules and creates nothing it could find again, so hearings are not filtered by
``created_at`` (which an upgraded database sets to the upgrade's moment, and a
backfill would then miss). There is no per-run hearing limit: the seed's 100 applies
to sending (Settings.notify_cap), and what is over it stays queued for the next
delivery.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from gstjobs.core import JobContext, Results
from gstjobs.limitation.adjournments import adjournments
from gstjobs.notify.delivery import send_own
from gstjobs.notify.outbox import per_channel

JOB_NAME = "send-hearing-reminders"
TEMPLATE = "hearing_reminder"

ADJOURNMENTS = adjournments("p.id", "h.case_id", "h.tenant_id", hearings_before="h.hearing_date")
"""Those before this hearing: its reminder speaks of the adjournments so far."""

QUEUE_REMINDERS = text(
    f"""
    WITH local AS (
        SELECT tn.id AS tenant_id, tn.timezone,
               (CAST(:as_of AS timestamptz) AT TIME ZONE tn.timezone)::date AS today
        FROM tenants tn
        WHERE tn.id = ANY(:tenants)
    ), found AS (
        -- Every fact a reminder states, per hearing, by index lookups from the hearing
        -- (each LATERAL ends in LIMIT or an aggregate, so it runs once per hearing).
        SELECT h.id, h.tenant_id, h.hearing_date, l.today,
               h.hearing_date < ((l.today + 1)::timestamp AT TIME ZONE l.timezone) AS on_the_day,
               c.owner_id, c.assigned_to, rep.id AS representative_id,
               jsonb_strip_nulls(jsonb_build_object(
                   'hearing_id', h.id,
                   'case_id', h.case_id,
                   'case_number', c.case_number,
                   'case_title', c.title,
                   'court_name', COALESCE(ct.name, p.authority, 'Court not recorded'),
                   'court_city', COALESCE(ct.city, ''),
                   'court_address', NULLIF(ct.address, ''),
                   'court_forum', ct.forum,
                   'hearing_date', h.hearing_date,
                   'purpose', h.purpose,
                   'notice_type', c.notice_type,
                   'client_name', (SELECT x.name FROM clients x
                                   WHERE x.id = c.client_id AND x.tenant_id = c.tenant_id),
                   'gstin', COALESCE(p.gstin, up.gstin,
                                     (SELECT x.gstin FROM clients x
                                      WHERE x.id = c.client_id AND x.tenant_id = c.tenant_id)),
                   'proceeding_id', p.id,
                   'proceeding_kind', p.kind,
                   'reference', COALESCE(p.reference_no, p.din),
                   'reference_date', to_char(p.issue_date, 'DD-MM-YYYY'),
                   'financial_years', up.financial_years,
                   'demand_section', up.demand_section,
                   'amount', CASE WHEN up.tax > 0 THEN gstjobs_inr(up.tax) END,
                   'amounts', up.amounts,
                   'representative', rep.full_name,
                   'adjournments', NULLIF(adj.n, 0))) AS facts
        FROM hearings h
        JOIN local l ON l.tenant_id = h.tenant_id
        JOIN cases c ON c.id = h.case_id AND c.tenant_id = h.tenant_id
        LEFT JOIN courts ct ON ct.id = h.court_id
        -- The proceeding heard: the hearing's own, else the case's latest open one.
        LEFT JOIN LATERAL (
            SELECT q.* FROM proceedings q
            WHERE q.case_id = h.case_id AND q.tenant_id = h.tenant_id
            ORDER BY q.id IS NOT DISTINCT FROM h.proceeding_id DESC, q.status = 'open' DESC,
                     q.issue_date DESC, q.created_at DESC
            LIMIT 1
        ) AS p ON true
        -- What the notice says, from the proceeding or the nearest ancestor that says it
        -- (an appeal's financial years, demand and amounts are the order's or the SCN's).
        LEFT JOIN LATERAL (
            WITH RECURSIVE chain AS (
                SELECT q.id, q.parent_id, q.kind, q.financial_years, q.gstin,
                       q.tax_igst, q.tax_cgst, q.tax_sgst, q.cess, 0 AS depth
                FROM proceedings q WHERE q.id = p.id
                UNION ALL
                SELECT q.id, q.parent_id, q.kind, q.financial_years, q.gstin,
                       q.tax_igst, q.tax_cgst, q.tax_sgst, q.cess, chain.depth + 1
                FROM chain
                JOIN proceedings q ON q.id = chain.parent_id AND q.tenant_id = h.tenant_id
                WHERE chain.depth < 6
            ), heads AS (
                SELECT x.* FROM chain x
                WHERE COALESCE(x.tax_igst, x.tax_cgst, x.tax_sgst, x.cess) IS NOT NULL
                ORDER BY x.depth LIMIT 1
            )
            SELECT (SELECT array_to_string(x.financial_years, ', ') FROM chain x
                    WHERE cardinality(x.financial_years) > 0 ORDER BY x.depth LIMIT 1)
                       AS financial_years,
                   (SELECT regexp_replace(x.kind, '^.*_S', 's.') FROM chain x
                    WHERE x.kind ~ '_S7' ORDER BY x.depth LIMIT 1) AS demand_section,
                   (SELECT x.gstin FROM chain x WHERE x.gstin IS NOT NULL
                    ORDER BY x.depth LIMIT 1) AS gstin,
                   (SELECT COALESCE(x.tax_igst, 0) + COALESCE(x.tax_cgst, 0)
                           + COALESCE(x.tax_sgst, 0) + COALESCE(x.cess, 0) FROM heads x) AS tax,
                   (SELECT jsonb_strip_nulls(jsonb_build_object(
                               'igst', CASE WHEN x.tax_igst > 0 THEN gstjobs_inr(x.tax_igst) END,
                               'cgst', CASE WHEN x.tax_cgst > 0 THEN gstjobs_inr(x.tax_cgst) END,
                               'sgst', CASE WHEN x.tax_sgst > 0 THEN gstjobs_inr(x.tax_sgst) END,
                               'cess', CASE WHEN x.cess > 0 THEN gstjobs_inr(x.cess) END))
                    FROM heads x) AS amounts
        ) AS up ON true
        -- Adjournments at the taxpayer's request on this proceeding (s.75(5), s.107(9));
        -- where none is recorded either way, the case's Adjourned hearings, as the
        -- limitation watch counts them.
        CROSS JOIN LATERAL (
            SELECT {ADJOURNMENTS} AS n
        ) AS adj
        -- Who appears: the hearing's representative, else the proceeding's, else the
        -- case's assigned advocate (the first of them who is an active user).
        LEFT JOIN LATERAL (
            SELECT u.id, u.full_name FROM users u
            WHERE u.tenant_id = h.tenant_id AND u.is_active
              AND u.id IN (h.representative_id, p.representative_id, c.assigned_to)
            ORDER BY array_position(ARRAY[h.representative_id, p.representative_id,
                                          c.assigned_to], u.id)
            LIMIT 1
        ) AS rep ON true
        WHERE h.tenant_id = ANY(:tenants)
          AND h.status = 'Scheduled'
          AND c.status <> 'Closed'
          AND h.hearing_date >= (l.today::timestamp AT TIME ZONE l.timezone)
          AND h.hearing_date < ((l.today + 2)::timestamp AT TIME ZONE l.timezone)
    ), recipients AS (
        -- Everything a message needs is carried along here, so that the INSERT below
        -- never joins two CTEs: the planner cannot estimate their sizes and would pick
        -- a nested loop that is quadratic in the number of hearings.
        SELECT f.tenant_id, f.id AS hearing_id, f.hearing_date, f.today, f.on_the_day,
               u.id AS user_id, u.email, u.phone, u.whatsapp_opt_in,
               f.facts || jsonb_build_object('roles', to_jsonb(r.roles)) AS payload
        FROM found f
        CROSS JOIN LATERAL (
            SELECT x.user_id, array_agg(x.role ORDER BY x.ord) AS roles
            FROM (VALUES (f.owner_id, 'owner', 1),
                         (f.representative_id, 'appearing representative', 2),
                         (f.assigned_to, 'assigned advocate', 3)) AS x (user_id, role, ord)
            WHERE x.user_id IS NOT NULL
              -- the advocate who appears is told so, not also as "assigned advocate"
              AND NOT (x.ord = 3 AND x.user_id IS NOT DISTINCT FROM f.representative_id)
            GROUP BY x.user_id
        ) AS r
        JOIN users u ON u.id = r.user_id AND u.tenant_id = f.tenant_id AND u.is_active
    ), candidates AS (
        {per_channel("recipients")}
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
    """
)


def run(conn: Connection, ctx: JobContext) -> Results:
    # A long expression over many rows: PostgreSQL's JIT compiles it for seconds to save
    # far less (measured on deadline-alerts' statement at 1M tasks). This transaction only.
    conn.execute(text("SET LOCAL jit = off"))
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
