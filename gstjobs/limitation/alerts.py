"""Events and messages for the statutory dates: early, escalating, and each only once.

From the register (``limitation_dates``) of the run's practices, one statement gathers
what is due to fire today into a temporary table:

* ``limitation_approaching`` at the rule's thresholds (T-30, -15, -7, -3, -1, 0 for an
  appeal): the smallest threshold not below the days left, so a date entered late
  fires its current threshold, not every one it skipped;
* ``limitation_lapsed`` once the date has passed (the practice's own dates, and the
  department's, whose lapse is the finding "appears deemed concluded u/s 75(10)");
* ``condonation_closing`` at outer-7 and outer-1 while the condonation window is open;
* ``limitation_defence_found`` for an SCN that appears time-barred;
* ``adjournment_cap_reached`` at the second (warning) and third taxpayer adjournment
  (s.75(5)); without recorded adjournments, the case's ``Adjourned`` hearings count.

Each event's key is ``rule:proceeding:fy:threshold:date``, unique per tenant in
``automation_events``: a threshold fires once per due date, and a re-run fires nothing.
Only rows that can fire are read: those of proceedings recomputed in this run
(``limitation_todo``, so the job's compute step runs first) and the bands around today
(due within 30 days, lapsed in the last 7, condonation closing within 7); a date that
passed while the job did not run for over a week is not alerted late, but stays in the
register, the digest's overdue block and ``limitation list``.

A second statement inserts the new events and, for those alone, queues one
``limitation_alert`` per recipient and channel (``notify.outbox.per_channel``): the
matter's owner and appearing representative always; the practice's admins from the
rule's ``admins_from`` day (T-7 for appeals and pre-deposits) and always for a lapse,
a closing condonation window, a defence or the adjournment cap. Messages queued in
the practice's quiet hours (its own, else GSTJOBS_QUIET_HOURS: as the delivery job
holds them) wait for their end, unless that would pass the day the practice must act by
(the date, its previous working day when it is a holiday, a lapsed date's condonation
end): those are urgent (``urgency`` 2) and go at once; an alert whose day is today or
tomorrow goes first after quiet hours (1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy import Connection, text

from gstjobs.limitation.adjournments import adjournments
from gstjobs.limitation.register import file_by
from gstjobs.notify.claim import quiet_window
from gstjobs.notify.outbox import per_channel
from gstjobs.notify.practice import KINDS

TEMPLATE = "limitation_alert"
CONDONATION_THRESHOLDS = (7, 1)
LAPSED_WITHIN_DAYS = 30
"""A lapse is alerted when it is at most this old, or while it is still condonable."""

# The practice's day and clock, per row of a join with ``tenants tn`` (a join with a
# CTE of tenants here would be costed as tiny and nested-looped: quadratic at scale).
_TODAY = """
    SELECT tn.timezone,
           (CAST(:as_of AS timestamptz) AT TIME ZONE tn.timezone)::date AS today,
           (CAST(:as_of AS timestamptz) AT TIME ZONE tn.timezone) AS local_now
"""

_SECTIONS = ", ".join(
    f"('{kind}', '{k.section}')" for kind, k in KINDS.items() if k.section is not None
)
"""The provision each proceeding kind is issued or filed under (``notify.practice``:
the hearing reminder's table); a kind without one (DRC-01A, a remand) shows none, never
its form in place of a section."""

# What a message needs, built once per fired row (section labels for the reader).
_MESSAGE = f"""
    jsonb_build_object(
        'event_type', f.event_type, 'threshold', f.label, 'rule_id', f.rule_id,
        'title', r.title, 'forum', r.forum, 'kind', f.kind,
        -- The client by its key, as scalar subqueries: a join (even LATERAL, which the
        -- planner flattens) is estimated as a handful of rows and nested-looped over
        -- every client, quadratic on a first run.
        'client_name', COALESCE((SELECT x.name FROM clients x
                                 WHERE x.id = c.client_id AND x.tenant_id = c.tenant_id),
                                'Client not recorded'),
        'gstin', COALESCE(p.gstin, (SELECT x.gstin FROM clients x
                                    WHERE x.id = c.client_id AND x.tenant_id = c.tenant_id),
                          'GSTIN not recorded'),
        'case_id', c.id, 'case_number', c.case_number, 'proceeding_id', p.id,
        'proceeding', replace(p.kind, '_', '-'),
        'reference_no', COALESCE(p.reference_no, p.din, 'no reference recorded'),
        'issue_date', gstjobs_show_date(p.issue_date),
        'communicated_date', CASE WHEN p.communicated_date IS NOT NULL
                                  THEN gstjobs_show_date(p.communicated_date) END,
        'anchor', d.anchor_name || ' ' || gstjobs_show_date(d.anchor_date),
        'fy', NULLIF(d.fy, '*'),
        'section', (SELECT k.section FROM (VALUES {_SECTIONS}) AS k (kind, section)
                    WHERE k.kind = p.kind),
        'due_date', gstjobs_show_date(d.due_date), 'days_left', d.due_date - f.today,
        -- A last date on a holiday: the previous working day to file by, while that day
        -- is not past; once it is (an alert on the Saturday or the holiday itself), only
        -- the flag, for the message to say the portal takes filings on holidays.
        'file_by', gstjobs_show_date({file_by("d", "p", "f.today")}),
        'holiday', CASE WHEN d.falls_on_holiday AND d.due_date >= f.today THEN true END,
        'outer_date', CASE WHEN d.outer_date IS NOT NULL
                           THEN gstjobs_show_date(d.outer_date) END,
        -- What paying within the window costs, per proceeding kind (SCN_PAY_WINDOW).
        'slab', r.params -> 'slab' ->> p.kind,
        'consequence', r.consequence, 'source', d.source, 'confidence', d.confidence,
        'notes', COALESCE(to_jsonb(d.notes), '[]'::jsonb), 'status', f.status,
        'amount', CASE WHEN d.amount > 0 THEN gstjobs_inr(d.amount) END,
        'amounts', CASE WHEN d.amount > 0 THEN (
            SELECT jsonb_object_agg(a.key, gstjobs_inr(a.value::numeric))
            FROM jsonb_each_text(d.amounts) AS a WHERE a.value::numeric > 0) END,
        'adjournments', f.adjournments)
"""

KEYS = text(
    f"""
    CREATE TEMP TABLE limitation_fire_keys ON COMMIT DROP AS
    WITH rows AS (
        SELECT d.tenant_id, d.proceeding_id, d.rule_id, d.fy, d.kind, d.status, d.due_date,
               d.outer_date, d.amount, l.timezone, l.today, l.local_now,
               d.due_date - l.today AS days_left, r.thresholds, r.admins_from
        FROM limitation_dates d
        JOIN tenants tn ON tn.id = d.tenant_id
        CROSS JOIN LATERAL ({_TODAY}) AS l
        JOIN limitation_rules r ON r.rule_id = d.rule_id AND r.version = d.rule_version
        JOIN proceedings p ON p.id = d.proceeding_id AND p.status = 'open'
        WHERE d.tenant_id = ANY(:tenants)
          AND NOT EXISTS (SELECT 1 FROM cases k WHERE k.id = p.case_id AND k.status = 'Closed')
          AND d.status IN ('open', 'lapsed', 'defence_found')
          -- What can fire today: rows just recomputed (new or changed inputs), and the
          -- bands around today (a threshold within 30 days, a lapse in the last 7, a
          -- condonation window closing within 7). Everything else fired before.
          AND (EXISTS (SELECT 1 FROM limitation_todo t WHERE t.proceeding_id = d.proceeding_id)
               OR d.due_date BETWEEN l.today - 7 AND l.today + 30
               OR d.outer_date BETWEEN l.today AND l.today + 7)
    ), fired AS (
        SELECT w.*, 'limitation_approaching' AS event_type, 'T-' || t.thr AS label,
               w.due_date AS key_date, w.admins_from IS NOT NULL
                   AND w.kind IN ('hard', 'condonable') AND t.thr <= w.admins_from AS admins,
               CAST(NULL AS int) AS adjournments
        FROM rows w
        CROSS JOIN LATERAL (SELECT min(x) AS thr FROM unnest(w.thresholds) AS x
                            WHERE w.days_left <= x) AS t
        WHERE w.status = 'open' AND w.days_left >= 0 AND t.thr IS NOT NULL
        UNION ALL
        SELECT w.*, 'limitation_lapsed', 'lapsed', w.due_date, true, NULL
        FROM rows w
        WHERE w.status = 'lapsed'
          AND w.kind IN ('hard', 'condonable', 'officer_extendable', 'department')
          -- A lapse is news while it is recent or still condonable; older ones (a
          -- proceeding entered long after its dates) are in the register, the digest
          -- and the findings, not a flood of messages on the first run.
          AND (w.due_date >= w.today - CAST(:lapsed_within AS int)
               OR w.outer_date >= w.today)
        UNION ALL
        SELECT w.*, 'condonation_closing', 'outer-' || t.thr, w.outer_date, true, NULL
        FROM rows w
        CROSS JOIN LATERAL (SELECT min(x) AS thr
                            FROM unnest(CAST(:condonation AS int[])) AS x
                            WHERE w.outer_date - w.today <= x) AS t
        WHERE w.status = 'lapsed' AND w.outer_date >= w.today AND t.thr IS NOT NULL
        UNION ALL
        SELECT w.*, 'limitation_defence_found', 'defence', w.due_date, true, NULL
        FROM rows w
        WHERE w.status = 'defence_found'
    ), adjourned AS (
        SELECT p.tenant_id, p.id AS proceeding_id, 'PH_ADJOURNMENT_CAP' AS rule_id,
               '*' AS fy, r.kind, 'open' AS status, l.today AS due_date,
               CAST(NULL AS date) AS outer_date, CAST(NULL AS numeric) AS amount, l.timezone,
               l.today, l.local_now, 0 AS days_left, r.thresholds, r.admins_from,
               'adjournment_cap_reached' AS event_type,
               CASE WHEN n.count >= (r.params ->> 'cap')::int THEN 'cap' ELSE 'warning' END
                   AS label,
               CAST(NULL AS date) AS key_date,
               n.count >= (r.params ->> 'cap')::int AS admins, n.count AS adjournments
        FROM proceedings p
        JOIN tenants tn ON tn.id = p.tenant_id
        CROSS JOIN LATERAL ({_TODAY}) AS l
        JOIN limitation_rules r ON r.rule_id = 'PH_ADJOURNMENT_CAP' AND p.kind = ANY(r.applies_to)
        LEFT JOIN limitation_rule_settings s
          ON s.tenant_id = p.tenant_id AND s.rule_id = r.rule_id
        CROSS JOIN LATERAL (
            SELECT {adjournments("p.id", "p.case_id", "p.tenant_id")} AS count
        ) AS n
        WHERE p.tenant_id = ANY(:tenants) AND p.status = 'open'
          AND p.id IN (SELECT t.proceeding_id FROM limitation_todo t)
          AND COALESCE(s.enabled, r.enabled_by_default)
          AND n.count >= (r.params ->> 'warn_at')::int
    )
    SELECT x.*,
           x.rule_id || ':' || x.proceeding_id::text || ':' || x.fy || ':' || x.label
               || CASE WHEN x.key_date IS NOT NULL THEN ':' || x.key_date::text ELSE '' END
               AS dedup_key
    FROM (SELECT * FROM fired UNION ALL SELECT * FROM adjourned) AS x
    """
)

# Messages for the keys that have not fired yet. A statement of its own over the
# analysed keys table: inside one statement the planner estimated the keys as a few rows
# and anti-joined them against every event by a nested loop (quadratic on a first run).
FIRE = text(
    f"""
    CREATE TEMP TABLE limitation_fired ON COMMIT DROP AS
    SELECT f.tenant_id, f.event_type, f.proceeding_id, f.admins, f.dedup_key,
           jsonb_strip_nulls(jsonb_build_object(
               'rule_id', f.rule_id, 'proceeding_id', f.proceeding_id, 'case_id', c.id,
               'fy', NULLIF(f.fy, '*'), 'threshold', f.label, 'kind', f.kind,
               'status', f.status, 'due_date', CASE WHEN f.rule_id <> 'PH_ADJOURNMENT_CAP'
                                                    THEN f.due_date END,
               'outer_date', f.outer_date, 'days_left', f.days_left, 'amount', f.amount,
               'adjournments', f.adjournments)) AS payload,
           jsonb_strip_nulls({_MESSAGE}) AS message,
           c.owner_id, COALESCE(p.representative_id, c.assigned_to) AS representative_id,
           w.urgency,
           CASE WHEN w.urgency = 2 OR w.hold_until IS NULL THEN CAST(:as_of AS timestamptz)
                ELSE w.hold_until END AS send_at
    FROM limitation_fire_keys f
    JOIN proceedings p ON p.id = f.proceeding_id
    JOIN cases c ON c.id = p.case_id AND c.tenant_id = p.tenant_id
    LEFT JOIN limitation_dates d
      ON d.proceeding_id = f.proceeding_id AND d.rule_id = f.rule_id AND d.fy = f.fy
    LEFT JOIN limitation_rules r ON r.rule_id = f.rule_id
     AND r.version = COALESCE(d.rule_version, 1)
    -- The practice's quiet hours at the run's moment, as the delivery job applies them
    -- (its own, else GSTJOBS_QUIET_HOURS), and the day the practice must act by: the
    -- date (its previous working day while that is still ahead when the date is a
    -- holiday), or a lapsed date's condonation end; none for the department's dates, a
    -- defence or the adjournment cap.
    LEFT JOIN ({quiet_window("CAST(:as_of AS timestamptz)")}) AS qw
      ON qw.tenant_id = f.tenant_id
    CROSS JOIN LATERAL (
        SELECT CASE WHEN qw.quiet THEN qw.quiet_until END AS hold_until,
               CASE WHEN f.rule_id = 'PH_ADJOURNMENT_CAP'
                         OR f.kind NOT IN ('hard', 'condonable', 'officer_extendable', 'info')
                    THEN NULL
                    WHEN f.status = 'lapsed' THEN f.outer_date
                    WHEN f.status = 'open' THEN COALESCE({file_by("d", "p", "f.today")}, f.due_date)
               END AS act_by
    ) AS q
    -- Urgent (goes at once, even at night) only when holding it to the end of quiet
    -- hours would pass the day to act by; soon (after quiet hours, before routine
    -- messages) when that day is today or tomorrow; else routine.
    CROSS JOIN LATERAL (
        SELECT CASE WHEN q.act_by IS NULL OR q.act_by < f.today THEN 0
                    WHEN (q.hold_until AT TIME ZONE f.timezone)::date > q.act_by THEN 2
                    WHEN q.act_by - f.today <= 1 THEN 1
                    ELSE 0
               END AS urgency,
               q.hold_until
    ) AS w
    WHERE NOT EXISTS (SELECT 1 FROM automation_events e
                      WHERE e.tenant_id = f.tenant_id AND e.event_type = f.event_type
                        AND e.dedup_key = f.dedup_key)
    """
)

EMIT = text(
    f"""
    WITH emitted AS (
        INSERT INTO automation_events (tenant_id, event_type, entity_type, entity_id,
                                       dedup_key, payload, occurred_at, run_id)
        SELECT f.tenant_id, f.event_type, 'proceeding', f.proceeding_id, f.dedup_key,
               f.payload, CAST(:as_of AS timestamptz), CAST(:run_id AS bigint)
        FROM limitation_fired f
        ON CONFLICT (tenant_id, event_type, dedup_key) DO NOTHING
        RETURNING tenant_id, event_type, dedup_key
    ), recipients AS (
        SELECT f.tenant_id, f.dedup_key, f.send_at, f.urgency, u.id AS user_id, u.email, u.phone,
               u.whatsapp_opt_in,
               f.message || jsonb_build_object(
                   'roles', to_jsonb(array_agg(DISTINCT r.role ORDER BY r.role))) AS payload
        -- Every row of limitation_fired is new (FIRE left out what had fired, and the
        -- job's lock keeps runs apart); the outbox's own key keeps a message single
        -- even so. Not joined back to ``emitted``: that join is estimated as one row
        -- and nested-looped against the users.
        FROM limitation_fired f
        CROSS JOIN LATERAL (
            SELECT f.owner_id AS user_id, 'matter owner' AS role
            UNION ALL SELECT f.representative_id, 'appearing representative'
            UNION ALL SELECT a.id, 'partner' FROM users a
                      WHERE f.admins AND a.tenant_id = f.tenant_id AND a.role = 'admin'
                        AND a.is_active
        ) AS r
        JOIN users u ON u.id = r.user_id AND u.tenant_id = f.tenant_id AND u.is_active
        GROUP BY f.tenant_id, f.dedup_key, f.send_at, f.urgency, f.message, u.id, u.email, u.phone,
                 u.whatsapp_opt_in
    ), candidates AS (
        {per_channel("recipients")}
    ), queued AS (
        INSERT INTO notifications (tenant_id, user_id, channel, template, payload, dedup_key,
                                   next_attempt_at, run_id, urgency)
        SELECT c.tenant_id, c.user_id, c.channel, CAST(:template AS text), c.payload,
               CAST(:template AS text) || ':' || c.dedup_key || ':' || c.user_id::text,
               c.send_at, CAST(:run_id AS bigint), c.urgency
        FROM candidates c
        ON CONFLICT (tenant_id, channel, dedup_key) DO NOTHING
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM emitted) AS events,
           (SELECT count(*) FROM queued) AS queued
    """
)


@dataclass(frozen=True)
class Fired:
    events: int
    notifications: int


def fire(
    conn: Connection,
    tenants: list[object],
    as_of: datetime,
    *,
    run_id: int,
    whatsapp: bool,
    quiet_hours: tuple[time, time] | None,
) -> Fired:
    """Emit today's events and queue their messages, in the caller's transaction.
    ``quiet_hours``: GSTJOBS_QUIET_HOURS (a practice's own hours win), as delivery uses."""
    quiet_start, quiet_end = quiet_hours or (None, None)
    params = {
        "tenants": tenants,
        "quiet_start": quiet_start,
        "quiet_end": quiet_end,
        "as_of": as_of,
        "run_id": run_id,
        "whatsapp": whatsapp,
        "template": TEMPLATE,
        "condonation": list(CONDONATION_THRESHOLDS),
        "lapsed_within": LAPSED_WITHIN_DAYS,
    }
    conn.execute(text("SET LOCAL jit = off"))  # see compute.compute
    for table in ("limitation_fire_keys", "limitation_fired"):
        conn.execute(text(f"DROP TABLE IF EXISTS {table}"))  # our constant names
    conn.execute(KEYS, params)
    conn.execute(text("ANALYZE limitation_fire_keys"))
    conn.execute(FIRE, params)
    conn.execute(text("CREATE INDEX ON limitation_fired (dedup_key)"))
    conn.execute(text("ANALYZE limitation_fired"))
    row = conn.execute(EMIT, params).one()
    return Fired(row.events, row.queued)
