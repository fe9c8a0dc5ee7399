"""From open proceedings to the register: every statutory date, set-based in SQL.

One statement computes every (proceeding, rule, financial year or '*') of the run's
practices into a temporary table; a second upserts it into ``limitation_dates``,
touching only rows whose values changed and writing one ``audit_log`` row for each
changed due date (old and new); a third removes rows that no longer apply (a rule
switched off, a financial year removed). A re-run at the same ``as_of`` writes nothing.

The rule's ``method`` picks the shape of the computation; every number comes from the
rule row or the reference tables (never from here):

* ``period``: anchor + months + days.
* ``reply_by``: the date in the notice; without one, anchor + the rule's days marked
  "practice default" (no days in the rule: no date, the input is missing).
* ``reply_by_capped``: the earlier of the notice's date and anchor + days (ASMT-11).
* ``scn_by`` / ``order_by``: per financial year from the annual return's due date (or an
  override by notification); s.74A orders from the SCN's issue date.
* ``notified_later``: the later of anchor + period and a notified date (GSTAT).
* ``predeposit``: the amount per head, due on the filing (never after).

Officer-extendable dates move to a recorded ``EXTENSION_GRANTED.new_due_date``; stays
(``STAY_GRANTED`` to ``STAY_VACATED``) and enabled ``limitation_exclusions`` add the days
they overlap. Ambiguity about the state or district takes the latest candidate for the
financial-year dates (a defence, or the department's deadline: never claim a time-bar
falsely); an unknown communication date takes the issue date, marked ``assumed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text

PRACTICE_KINDS = ("hard", "condonable", "officer_extendable")
ANALYZE_AFTER = 5000
"""Rows written by one run above which the register's statistics are refreshed."""
"""Kinds whose date binds the practice itself (alerts escalate, lapses are counted)."""

_WORST = "ARRAY['verified','settled','uncertain','contested']"
TODAY = "(CAST(:as_of AS timestamptz) AT TIME ZONE tn.timezone)::date"
"""The practice's day, for a statement joined with ``tenants tn``. (Joining a derived
table of tenants instead is costed as a few rows and nested-looped: quadratic.)"""

COMPUTE = text(
    f"""
    CREATE TEMP TABLE limitation_computed ON COMMIT DROP AS
    WITH local AS (
        SELECT tn.id AS tenant_id, tn.timezone,
               (CAST(:as_of AS timestamptz) AT TIME ZONE tn.timezone)::date AS today
        FROM tenants tn
        WHERE tn.id = ANY(:tenants)
    ), p AS (
        SELECT p.*, l.timezone, l.today,
               COALESCE(p.communicated_date, p.issue_date) AS comm,
               p.communicated_date IS NULL AS comm_assumed
        FROM proceedings p
        JOIN local l ON l.tenant_id = p.tenant_id
        JOIN limitation_todo t ON t.proceeding_id = p.id
        WHERE p.tenant_id = ANY(:tenants) AND p.status = 'open'
    ), done AS (
        -- The first date each event kind (or child proceeding kind) happened, per
        -- proceeding: what satisfies a rule is looked up here.
        SELECT d.proceeding_id, jsonb_object_agg(d.kind, d.first_date) AS first_dates,
               max(d.new_due) AS extended_to, max(d.order_extended) AS order_extended_to
        FROM (
            SELECT e.proceeding_id, e.kind, min(e.event_date) AS first_date,
                   max(e.new_due_date) FILTER (WHERE e.kind = 'EXTENSION_GRANTED') AS new_due,
                   max(e.new_due_date) FILTER (WHERE e.kind = 'ORDER_TIME_EXTENDED')
                       AS order_extended
            FROM proceeding_events e
            JOIN limitation_todo t ON t.proceeding_id = e.proceeding_id
            GROUP BY e.proceeding_id, e.kind
            UNION ALL
            SELECT c.parent_id, c.kind, min(c.issue_date), NULL, NULL
            FROM proceedings c
            JOIN limitation_todo t ON t.proceeding_id = c.parent_id
            GROUP BY c.parent_id, c.kind
        ) AS d
        GROUP BY d.proceeding_id
    ), excluded AS (
        -- Periods that do not count: enabled exclusions of the proceeding, its practice
        -- or everyone, and every stay (granted until vacated, or until today).
        SELECT x.proceeding_id, array_agg(x.span) AS spans
        FROM (
            SELECT p.id AS proceeding_id, daterange(e.from_date, e.to_date, '[]') AS span
            FROM p
            JOIN limitation_exclusions e
              ON e.enabled AND (e.tenant_id IS NULL OR e.tenant_id = p.tenant_id)
             AND (e.proceeding_id IS NULL OR e.proceeding_id = p.id)
            UNION ALL
            SELECT s.proceeding_id,
                   daterange(s.event_date,
                             COALESCE((SELECT min(v.event_date) FROM proceeding_events v
                                       WHERE v.proceeding_id = s.proceeding_id
                                         AND v.kind = 'STAY_VACATED'
                                         AND v.event_date >= s.event_date), p.today), '[]')
            FROM proceeding_events s
            JOIN p ON p.id = s.proceeding_id
            WHERE s.tenant_id = ANY(:tenants) AND s.kind = 'STAY_GRANTED'
        ) AS x
        GROUP BY x.proceeding_id
    ), candidates AS MATERIALIZED (
        SELECT p.id AS proceeding_id, p.tenant_id, p.case_id, p.kind AS pkind, p.issue_date,
               p.comm, p.comm_assumed, p.reply_by_date, p.state_code, p.district, p.timezone,
               p.today,
               p.tax_cgst, p.tax_sgst, p.tax_igst, p.cess, p.penalty, p.admitted_tax,
               r.rule_id, r.version, r.method, r.anchor, r.kind, r.period_months,
               r.period_days, r.outer_months, r.outer_days, r.params, r.confidence,
               r.source, r.met_by || r.met_by_children AS met_kinds,
               r.effective_from, r.effective_to,
               f.fy, d.first_dates, d.extended_to, d.order_extended_to, x.spans,
               CASE WHEN d.first_dates IS NOT NULL THEN
                   (SELECT min((d.first_dates ->> k)::date)
                    FROM unnest(ARRAY['APPEAL_FILED', 'APL_01_FILED', 'APL_05_FILED',
                                      'HC_APPEAL_FILED']) AS k) END AS filed
        FROM p
        JOIN limitation_rules r
          ON p.kind = ANY(r.applies_to)
         AND r.method NOT IN ('none', 'adjournments')
        LEFT JOIN limitation_rule_settings s
          ON s.tenant_id = p.tenant_id AND s.rule_id = r.rule_id
        CROSS JOIN LATERAL (
            SELECT fy FROM unnest(p.financial_years) AS fy
            WHERE r.method = 'scn_by'
               OR (r.method = 'order_by' AND r.params -> 'order_months' ? p.kind)
            UNION ALL
            SELECT '*'
            WHERE NOT (r.method = 'scn_by'
                       OR (r.method = 'order_by' AND r.params -> 'order_months' ? p.kind))
        ) AS f
        LEFT JOIN done d ON d.proceeding_id = p.id
        LEFT JOIN excluded x ON x.proceeding_id = p.id
        WHERE COALESCE(s.enabled, r.enabled_by_default)
    ), versioned AS (
        -- The version in force on the relevant date: the filing day for a pre-deposit
        -- (today while not yet filed), else the anchor.
        SELECT c.*, CASE WHEN c.anchor = 'issue_date' THEN c.issue_date ELSE c.comm END
                    AS base_anchor
        FROM candidates c
        WHERE (CASE WHEN c.method = 'predeposit' THEN COALESCE(c.filed, c.today)
                    WHEN c.anchor = 'issue_date' THEN c.issue_date
                    ELSE c.comm END)
              BETWEEN c.effective_from AND COALESCE(c.effective_to, DATE 'infinity')
    ), fy_keys AS MATERIALIZED (
        -- The annual return's due date and any override, once per distinct financial
        -- year, section, state and district (a few hundred), not once per row.
        SELECT v.fy, v.pkind, v.state_code, v.district, a.fy_due, a.fy_ambiguous,
               a.fy_confidence, a.fy_source, o.override_date, o.override_source,
               o.override_contested
        FROM (SELECT DISTINCT c.fy, c.pkind, c.state_code, c.district
              FROM candidates c WHERE c.fy <> '*') AS v
        LEFT JOIN LATERAL (
            SELECT max(a.due_date) AS fy_due, count(DISTINCT a.due_date) > 1 AS fy_ambiguous,
                   ({_WORST})[max(array_position({_WORST}, a.confidence))] AS fy_confidence,
                   string_agg(DISTINCT a.source, '; ') AS fy_source
            FROM (
                -- Rows that may apply. A row whose every condition is met by a known
                -- state/district supersedes less specific ones; a row that applies only
                -- if an unknown district were it stays a candidate (the ambiguity).
                SELECT m.*, max(m.spec) FILTER (WHERE m.known) OVER () AS best
                FROM (SELECT a.*,
                             (a.state_code IS NOT NULL)::int + (a.district IS NOT NULL)::int
                                 AS spec,
                             (a.state_code IS NULL OR v.state_code IS NOT NULL)
                             AND (a.district IS NULL OR v.district IS NOT NULL) AS known
                      FROM annual_return_due_dates a
                      WHERE v.fy <> '*' AND a.fy = v.fy
                        AND (a.state_code IS NULL OR v.state_code IS NULL
                             OR a.state_code = v.state_code)
                        AND (a.district IS NULL OR v.district IS NULL
                             OR a.district = v.district)) AS m
            ) AS a
            WHERE a.spec >= COALESCE(a.best, 0)
        ) AS a ON true
        LEFT JOIN LATERAL (
            SELECT max(o.date) AS override_date, string_agg(o.source, '; ') AS override_source,
                   bool_or(o.contested) AS override_contested
            FROM limitation_overrides o
            WHERE v.fy <> '*' AND o.fy = v.fy AND o.section = v.pkind AND o.what = 'order_by'
              AND (o.state_code IS NULL OR v.state_code IS NULL OR o.state_code = v.state_code)
        ) AS o ON true
    ), fy_dates AS (
        SELECT v.*, k.fy_due, k.fy_ambiguous, k.fy_confidence, k.fy_source,
               k.override_date, k.override_source, k.override_contested,
               n.notified, n.notified_confidence, n.notified_source
        FROM versioned v
        LEFT JOIN fy_keys k
          ON k.fy = v.fy AND k.pkind = v.pkind
         AND COALESCE(k.state_code, '') = COALESCE(v.state_code, '')
         AND COALESCE(k.district, '') = COALESCE(v.district, '')
        LEFT JOIN LATERAL (
            SELECT max(n.date) AS notified,
                   ({_WORST})[max(array_position({_WORST}, n.confidence))]
                       AS notified_confidence,
                   string_agg(n.source, '; ') AS notified_source
            FROM notified_dates n
            WHERE v.method IN ('notified_later', 'predeposit') AND n.enabled
              AND n.rule_id = COALESCE(v.params ->> 'notified_rule', v.rule_id)
              AND v.comm < n.communicated_before
        ) AS n ON true
    ), dated AS (
        SELECT f.*,
               CASE f.method
                 WHEN 'scn_by' THEN f.fy_due
                 WHEN 'order_by' THEN CASE WHEN f.fy = '*' THEN f.issue_date ELSE f.fy_due END
                 ELSE f.base_anchor END AS anchor_date,
               CASE f.method
                 WHEN 'scn_by' THEN 'annual return due ' || f.fy
                 WHEN 'order_by' THEN CASE WHEN f.fy = '*' THEN 'SCN issue date'
                                           ELSE 'annual return due ' || f.fy END
                 WHEN 'reply_by' THEN CASE WHEN f.reply_by_date IS NOT NULL
                                           THEN 'date stated in the notice'
                                           WHEN f.anchor = 'issue_date' THEN 'issue date'
                                           ELSE 'communication date' END
                 ELSE CASE WHEN f.anchor = 'issue_date' THEN 'issue date'
                           ELSE 'communication date' END END AS anchor_name,
               f.method = 'reply_by' AND f.reply_by_date IS NULL AS practice_default,
               f.method = 'scn_by' AND f.params -> 'scn_before_order_months' ? f.pkind
               AND gstjobs_months_before_latest(
                       COALESCE(f.override_date, gstjobs_add_months(f.fy_due,
                           (f.params -> 'order_months' ->> f.pkind)::int)),
                       (f.params -> 'scn_before_order_months' ->> f.pkind)::int)
                   <> gstjobs_add_months(
                       COALESCE(f.override_date, gstjobs_add_months(f.fy_due,
                           (f.params -> 'order_months' ->> f.pkind)::int)),
                       -(f.params -> 'scn_before_order_months' ->> f.pkind)::int)
                   AS month_end_reading,
               f.anchor = 'communicated_date' AND f.comm_assumed AS assumed,
               gstjobs_add_months(f.base_anchor, f.period_months) + f.period_days AS plain,
               CASE f.method
                 WHEN 'period' THEN gstjobs_add_months(f.base_anchor, f.period_months)
                                    + f.period_days
                 WHEN 'reply_by' THEN COALESCE(f.reply_by_date,
                     CASE WHEN f.period_days + f.period_months > 0
                          THEN gstjobs_add_months(f.base_anchor, f.period_months)
                               + f.period_days END)
                 WHEN 'reply_by_capped' THEN LEAST(f.reply_by_date,
                     gstjobs_add_months(f.base_anchor, f.period_months) + f.period_days)
                 WHEN 'scn_by' THEN CASE
                     WHEN f.params -> 'scn_months' ? f.pkind
                     THEN gstjobs_add_months(f.fy_due, (f.params -> 'scn_months' ->> f.pkind)::int)
                     ELSE gstjobs_months_before_latest(
                         COALESCE(f.override_date, gstjobs_add_months(f.fy_due,
                             (f.params -> 'order_months' ->> f.pkind)::int)),
                         (f.params -> 'scn_before_order_months' ->> f.pkind)::int) END
                 WHEN 'order_by' THEN CASE
                     WHEN f.fy = '*' THEN CASE
                         WHEN f.order_extended_to IS NOT NULL
                         THEN LEAST(GREATEST(f.order_extended_to,
                                gstjobs_add_months(f.issue_date,
                                    (f.params -> 'from_issue_months' ->> f.pkind)::int)),
                              gstjobs_add_months(f.issue_date,
                                    (f.params -> 'from_issue_months' ->> f.pkind)::int
                                    + (f.params -> 'extension_months' ->> f.pkind)::int))
                         ELSE gstjobs_add_months(f.issue_date,
                                    (f.params -> 'from_issue_months' ->> f.pkind)::int) END
                     ELSE COALESCE(f.override_date, gstjobs_add_months(f.fy_due,
                             (f.params -> 'order_months' ->> f.pkind)::int)) END
                 WHEN 'notified_later' THEN GREATEST(
                     gstjobs_add_months(f.base_anchor, f.period_months) + f.period_days,
                     f.notified)
                 WHEN 'predeposit' THEN COALESCE(f.filed, GREATEST(
                     gstjobs_add_months(f.base_anchor, f.period_months) + f.period_days,
                     f.notified))
               END AS computed_due
        FROM fy_dates f
    ), extended AS (
        SELECT d.*,
               CASE WHEN d.kind = 'officer_extendable' AND d.extended_to > d.computed_due
                    THEN d.extended_to ELSE d.computed_due END AS base_due
        FROM dated d
        WHERE d.computed_due IS NOT NULL
    ), shifted AS MATERIALIZED (
        SELECT e.*,
               CASE WHEN e.spans IS NULL THEN 0 ELSE
                   COALESCE((SELECT sum(upper(s * daterange(e.anchor_date, e.base_due, '[]'))
                                        - lower(s * daterange(e.anchor_date, e.base_due, '[]')))
                             FROM unnest(e.spans) AS s), 0)::int END AS excluded_days
        FROM extended e
    ), totals AS MATERIALIZED (
        SELECT s.*, s.base_due + s.excluded_days AS due,
               CASE WHEN s.outer_months IS NOT NULL OR s.outer_days IS NOT NULL THEN
                   -- Condonation from the statutory period; where a notified date moved
                   -- the due date, the earlier reading is taken (it is the practice's own
                   -- deadline, and whether s.112(6) runs from the notified date is open).
                   LEAST(gstjobs_add_months(s.base_due, COALESCE(s.outer_months, 0))
                             + COALESCE(s.outer_days, 0),
                         gstjobs_add_months(s.plain, COALESCE(s.outer_months, 0))
                             + COALESCE(s.outer_days, 0)) + s.excluded_days
               END AS outer_date,
               CASE WHEN s.first_dates IS NOT NULL THEN
                   (SELECT min((s.first_dates ->> k)::date) FROM unnest(s.met_kinds) AS k)
               END AS met_date,
               CASE WHEN s.method = 'predeposit' THEN (
                   SELECT jsonb_build_object(
                       'admitted', COALESCE(s.admitted_tax, 0),
                       'cgst', h.cgst, 'sgst', h.sgst, 'igst', h.igst, 'cess', h.cess,
                       'penalty', h.pen)
                   FROM (SELECT
                           LEAST(round(pct * COALESCE(s.tax_cgst, 0) * share),
                                 (s.params -> 'caps' ->> 'cgst')::numeric) AS cgst,
                           LEAST(round(pct * COALESCE(s.tax_sgst, 0) * share),
                                 (s.params -> 'caps' ->> 'sgst')::numeric) AS sgst,
                           LEAST(round(pct * COALESCE(s.tax_igst, 0) * share),
                                 (s.params -> 'caps' ->> 'igst')::numeric) AS igst,
                           LEAST(round(pct * COALESCE(s.cess, 0) * share),
                                 (s.params -> 'caps' ->> 'cess')::numeric) AS cess,
                           CASE WHEN total = 0 AND COALESCE(s.penalty, 0) > 0
                                THEN round(COALESCE((s.params ->> 'penalty_only_pct')::numeric, 0)
                                           / 100 * s.penalty)
                                ELSE 0 END AS pen
                         FROM (SELECT (s.params ->> 'pct')::numeric / 100 AS pct, t.total,
                                      CASE WHEN t.total > 0
                                           THEN GREATEST(t.total - COALESCE(s.admitted_tax, 0), 0)
                                                / t.total
                                           ELSE 0 END AS share
                               FROM (SELECT COALESCE(s.tax_cgst, 0) + COALESCE(s.tax_sgst, 0)
                                            + COALESCE(s.tax_igst, 0) + COALESCE(s.cess, 0)
                                            AS total) AS t) AS q) AS h)
               END AS amounts
        FROM shifted s
    ), final AS (
        SELECT t.*,
               CASE WHEN t.amounts IS NOT NULL THEN
                   (SELECT sum(COALESCE(v.value::numeric, 0))
                    FROM jsonb_each_text(t.amounts) AS v)
               END AS amount
        FROM totals t
    )
    SELECT f.tenant_id, f.proceeding_id, f.rule_id, f.fy, f.case_id, f.version AS rule_version,
           f.kind, f.due,
           ((f.due + TIME '23:59:59') AT TIME ZONE f.timezone) AS due_at,
           f.outer_date,
           f.due - CASE extract(isodow FROM f.due) WHEN 1 THEN 4 WHEN 2 THEN 4 WHEN 7 THEN 3
                                                   ELSE 2 END AS target_date,
           f.anchor_name, f.anchor_date, f.assumed,
           COALESCE(f.fy_ambiguous, false) OR COALESCE(f.month_end_reading, false) AS ambiguous,
           f.practice_default,
           gstjobs_falls_on_holiday(f.due, f.state_code) AS falls_on_holiday,
           ({_WORST})[GREATEST(
               array_position({_WORST}, f.confidence),
               array_position({_WORST}, CASE WHEN f.method IN ('scn_by', 'order_by')
                                              AND f.fy <> '*' THEN f.fy_confidence END),
               CASE WHEN f.method IN ('scn_by', 'order_by') AND f.override_contested
                    THEN 4 END,
               array_position({_WORST}, CASE WHEN f.notified IS NOT NULL
                                                  AND f.notified > f.plain
                                             THEN f.notified_confidence END))] AS confidence,
           concat_ws('; ', f.source,
                     CASE WHEN f.method IN ('scn_by', 'order_by') AND f.fy <> '*'
                          THEN f.fy_source END,
                     CASE WHEN f.method IN ('scn_by', 'order_by') AND f.fy <> '*'
                          THEN f.override_source END,
                     CASE WHEN f.notified IS NOT NULL AND f.notified > f.plain
                          THEN f.notified_source END) AS source,
           f.amount,
           f.amounts,
           array_remove(ARRAY[
               CASE WHEN f.assumed THEN 'assumed: communication date unknown, issue date used' END,
               CASE WHEN f.practice_default
                    THEN 'practice default: the notice states no date' END,
               CASE WHEN COALESCE(f.fy_ambiguous, false)
                    THEN 'ambiguous: state or district unknown, latest candidate used' END,
               CASE WHEN f.month_end_reading
                    THEN 'ambiguous: counted back from a month end, month-end reading used' END,
               CASE WHEN f.method IN ('scn_by', 'order_by') AND f.override_contested
                    THEN 'contested: the extending notification is under challenge' END,
               CASE WHEN f.notified IS NOT NULL AND f.notified > f.plain
                         AND f.outer_date IS NOT NULL
                    THEN 'uncertain: condonation counted from the statutory 3 months' END,
               CASE WHEN f.excluded_days > 0
                    THEN 'excluded: ' || f.excluded_days || ' days (stay or exclusion)' END
           ], NULL) AS notes,
           CASE
             WHEN f.kind = 'defence' THEN
                 CASE WHEN f.issue_date > f.due THEN 'defence_found' ELSE 'not_applicable' END
             WHEN f.method = 'predeposit' AND f.amount = 0 THEN 'not_applicable'
             WHEN f.met_date IS NOT NULL AND f.met_date <= f.due THEN 'met'
             WHEN f.met_date IS NOT NULL AND f.outer_date IS NOT NULL
                  AND f.met_date <= f.outer_date THEN 'met_late'
             -- An information window acted on late (recovery stayed by a late appeal).
             WHEN f.met_date IS NOT NULL AND f.kind = 'info' THEN 'met_late'
             WHEN f.today > f.due THEN 'lapsed'
             WHEN f.met_date IS NOT NULL THEN 'lapsed'
             ELSE 'open'
           END AS status,
           f.met_date
    FROM final f
    """
)

UPSERT = text(
    """
    WITH changed AS (
        SELECT c.tenant_id, c.proceeding_id, c.rule_id, c.fy, l.due_date AS old_due,
               c.due AS new_due
        FROM limitation_computed c
        JOIN limitation_dates l
          ON l.proceeding_id = c.proceeding_id AND l.rule_id = c.rule_id AND l.fy = c.fy
        WHERE l.due_date <> c.due
    ), upserted AS (
        INSERT INTO limitation_dates AS l (
            tenant_id, proceeding_id, rule_id, fy, case_id, rule_version, kind, due_date, due_at,
            outer_date, target_date, anchor_name, anchor_date, assumed, ambiguous,
            practice_default, falls_on_holiday, confidence, source, amount, amounts, notes,
            status, met_date, computed_at)
        SELECT c.tenant_id, c.proceeding_id, c.rule_id, c.fy, c.case_id, c.rule_version, c.kind,
               c.due, c.due_at, c.outer_date, c.target_date, c.anchor_name, c.anchor_date,
               c.assumed, c.ambiguous, c.practice_default, c.falls_on_holiday, c.confidence,
               c.source, c.amount, c.amounts, c.notes, c.status, c.met_date,
               CAST(:as_of AS timestamptz)
        FROM limitation_computed c
        ON CONFLICT (proceeding_id, rule_id, fy) DO UPDATE SET
            case_id = EXCLUDED.case_id, rule_version = EXCLUDED.rule_version,
            kind = EXCLUDED.kind, due_date = EXCLUDED.due_date, due_at = EXCLUDED.due_at,
            outer_date = EXCLUDED.outer_date, target_date = EXCLUDED.target_date,
            anchor_name = EXCLUDED.anchor_name, anchor_date = EXCLUDED.anchor_date,
            assumed = EXCLUDED.assumed, ambiguous = EXCLUDED.ambiguous,
            practice_default = EXCLUDED.practice_default,
            falls_on_holiday = EXCLUDED.falls_on_holiday, confidence = EXCLUDED.confidence,
            source = EXCLUDED.source, amount = EXCLUDED.amount, amounts = EXCLUDED.amounts,
            notes = EXCLUDED.notes, status = EXCLUDED.status, met_date = EXCLUDED.met_date,
            computed_at = EXCLUDED.computed_at
        WHERE (l.case_id, l.rule_version, l.kind, l.due_date, l.due_at, l.outer_date,
               l.target_date, l.anchor_name, l.anchor_date, l.assumed, l.ambiguous,
               l.practice_default, l.falls_on_holiday, l.confidence, l.source, l.amount,
               l.amounts, l.notes, l.status, l.met_date)
              IS DISTINCT FROM
              (EXCLUDED.case_id, EXCLUDED.rule_version, EXCLUDED.kind, EXCLUDED.due_date,
               EXCLUDED.due_at, EXCLUDED.outer_date, EXCLUDED.target_date,
               EXCLUDED.anchor_name, EXCLUDED.anchor_date, EXCLUDED.assumed,
               EXCLUDED.ambiguous, EXCLUDED.practice_default, EXCLUDED.falls_on_holiday,
               EXCLUDED.confidence, EXCLUDED.source, EXCLUDED.amount, EXCLUDED.amounts,
               EXCLUDED.notes, EXCLUDED.status, EXCLUDED.met_date)
        RETURNING 1
    ), logged AS (
        INSERT INTO audit_log (tenant_id, action_type, entity_type, entity_id, details)
        SELECT ch.tenant_id, 'limitation_date_changed', 'proceeding', ch.proceeding_id,
               jsonb_build_object('rule_id', ch.rule_id, 'fy', ch.fy,
                                  'old_due_date', ch.old_due, 'new_due_date', ch.new_due,
                                  'job_name', CAST(:job_name AS text),
                                  'run_id', CAST(:run_id AS bigint))
        FROM changed ch
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM upserted) AS written,
           (SELECT count(*) FROM logged) AS due_changed
    """
)

TODO = text(
    """
    CREATE TEMP TABLE limitation_todo ON COMMIT DROP AS
    WITH fingerprint AS MATERIALIZED (
        -- Everything a date depends on beyond the proceeding itself: the rules (and the
        -- versions in force around the run's day, so crossing an effective date
        -- recomputes), the reference data and the holidays.
        SELECT md5(concat_ws('|',
            (SELECT string_agg(r::text, ',' ORDER BY r.rule_id, r.version)
             FROM limitation_rules r),
            (SELECT string_agg(r.rule_id || ':' || r.version || '@'
                                   || (d::date - CAST(:as_of AS timestamptz)::date), ','
                               ORDER BY r.rule_id, r.version, d)
             FROM limitation_rules r
             CROSS JOIN generate_series(CAST(:as_of AS timestamptz)::date - 1,
                                        CAST(:as_of AS timestamptz)::date + 1,
                                        interval '1 day') AS d
             WHERE d::date BETWEEN r.effective_from AND COALESCE(r.effective_to, 'infinity')),
            (SELECT string_agg(a::text, ',' ORDER BY a.id) FROM annual_return_due_dates a),
            (SELECT string_agg(o::text, ',' ORDER BY o.id) FROM limitation_overrides o),
            (SELECT string_agg(n::text, ',' ORDER BY n.id) FROM notified_dates n),
            (SELECT string_agg(x::text, ',' ORDER BY x.id) FROM limitation_exclusions x),
            (SELECT string_agg(h::text, ',' ORDER BY h.id) FROM holidays h))) AS global
    ), ev AS (
        SELECT e.proceeding_id,
               md5(string_agg(concat_ws('/', e.kind, e.event_date, e.sought_by, e.new_due_date,
                                        e.amount), ',' ORDER BY e.id)) AS h,
               max(e.event_date) FILTER (WHERE e.kind = 'STAY_GRANTED')
                   > COALESCE(max(e.event_date) FILTER (WHERE e.kind = 'STAY_VACATED'),
                              DATE '-infinity') AS open_stay
        FROM proceeding_events e
        WHERE e.tenant_id = ANY(:tenants)
        GROUP BY e.proceeding_id
    ), children AS (
        SELECT c.parent_id, md5(string_agg(c.kind || c.issue_date, ','
                                           ORDER BY c.kind, c.issue_date)) AS h
        FROM proceedings c
        WHERE c.tenant_id = ANY(:tenants) AND c.parent_id IS NOT NULL
        GROUP BY c.parent_id
    ), adjourned AS (
        -- Adjourned hearings count towards the s.75(5) cap when no adjournment is
        -- recorded as an event: a change in them must recompute the proceeding.
        SELECT h.case_id, count(*) AS n
        FROM hearings h
        WHERE h.tenant_id = ANY(:tenants) AND h.status = 'Adjourned'
        GROUP BY h.case_id
    ), settings AS (
        SELECT s.tenant_id, md5(string_agg(s::text, ',' ORDER BY s.rule_id)) AS h
        FROM limitation_rule_settings s
        WHERE s.tenant_id = ANY(:tenants)
        GROUP BY s.tenant_id
    ), hashed AS (
        SELECT p.id, p.tenant_id,
               md5(concat_ws('|', f.global, p.kind, p.case_id, p.parent_id, p.issue_date,
                             p.communicated_date, p.reply_by_date, p.financial_years::text,
                             p.state_code, p.district, p.tax_cgst, p.tax_sgst, p.tax_igst,
                             p.cess, p.penalty, p.admitted_tax, p.status, ev.h, ch.h, st.h,
                             tn.timezone, ad.n,
                             CASE WHEN ev.open_stay THEN l.today::text END)) AS h
        FROM proceedings p
        JOIN tenants tn ON tn.id = p.tenant_id
        CROSS JOIN LATERAL (
            SELECT (CAST(:as_of AS timestamptz) AT TIME ZONE tn.timezone)::date AS today
        ) AS l
        CROSS JOIN fingerprint f
        LEFT JOIN ev ON ev.proceeding_id = p.id
        LEFT JOIN children ch ON ch.parent_id = p.id
        LEFT JOIN settings st ON st.tenant_id = p.tenant_id
        LEFT JOIN adjourned ad ON ad.case_id = p.case_id
        WHERE p.tenant_id = ANY(:tenants) AND p.status = 'open'
          -- A closed matter is left alone (issue 12): not computed; reopened, its
          -- inputs are unchanged and its statuses are refreshed below.
          AND NOT EXISTS (SELECT 1 FROM cases k WHERE k.id = p.case_id AND k.status = 'Closed')
    )
    SELECT h.id AS proceeding_id, h.tenant_id, h.h AS inputs_hash
    FROM hashed h
    LEFT JOIN limitation_inputs i ON i.proceeding_id = h.id
    WHERE i.inputs_hash IS DISTINCT FROM h.h
    """
)

REMOVE_STALE = text(
    """
    DELETE FROM limitation_dates l
    USING limitation_todo t
    WHERE l.proceeding_id = t.proceeding_id
      AND NOT EXISTS (SELECT 1 FROM limitation_computed c
                      WHERE c.proceeding_id = l.proceeding_id AND c.rule_id = l.rule_id
                        AND c.fy = l.fy)
    """
)

REMEMBER_INPUTS = text(
    """
    INSERT INTO limitation_inputs AS i (proceeding_id, tenant_id, inputs_hash)
    SELECT t.proceeding_id, t.tenant_id, t.inputs_hash FROM limitation_todo t
    ON CONFLICT (proceeding_id) DO UPDATE SET inputs_hash = EXCLUDED.inputs_hash
    """
)

REFRESH_STATUS = text(
    f"""
    -- Rows not recomputed: only an unmet date's open/lapsed status depends on the day.
    UPDATE limitation_dates d
    SET status = CASE WHEN {TODAY} > d.due_date THEN 'lapsed' ELSE 'open' END,
        computed_at = CAST(:as_of AS timestamptz)
    FROM tenants tn
    WHERE tn.id = d.tenant_id AND d.tenant_id = ANY(:tenants)
      AND d.status IN ('open', 'lapsed') AND d.met_date IS NULL
      AND d.status <> CASE WHEN {TODAY} > d.due_date THEN 'lapsed' ELSE 'open' END
      AND NOT EXISTS (SELECT 1 FROM limitation_todo t WHERE t.proceeding_id = d.proceeding_id)
      AND NOT EXISTS (SELECT 1 FROM cases k WHERE k.id = d.case_id AND k.status = 'Closed')
    """
)

COUNTS = text(
    f"""
    SELECT count(*) AS dates,
           count(*) FILTER (WHERE d.status = 'open' AND d.due_date - l.today BETWEEN 0 AND 7
                            AND d.kind IN {PRACTICE_KINDS}) AS due_in_7,
           count(*) FILTER (WHERE d.status = 'lapsed' AND d.due_date = l.today - 1
                            AND d.kind IN {PRACTICE_KINDS}) AS lapsed_today,
           count(*) FILTER (WHERE d.status = 'lapsed' AND d.outer_date >= l.today
                            AND d.kind IN {PRACTICE_KINDS}) AS in_condonation,
           count(*) FILTER (WHERE d.status = 'defence_found') AS defences
    FROM limitation_dates d
    JOIN proceedings p ON p.id = d.proceeding_id AND p.status = 'open'
    JOIN tenants tn ON tn.id = d.tenant_id
    CROSS JOIN LATERAL (SELECT {TODAY} AS today) AS l
    WHERE d.tenant_id = ANY(:tenants)
      AND NOT EXISTS (SELECT 1 FROM cases k WHERE k.id = p.case_id AND k.status = 'Closed')
    """
)


@dataclass(frozen=True)
class Computed:
    dates: int
    """Rows of the register for the open proceedings, after the run."""
    recomputed: int
    """Rows computed afresh (proceedings whose inputs changed)."""
    written: int
    """Rows inserted, updated or re-dated, plus statuses refreshed."""
    due_changed: int
    removed: int
    due_in_7: int
    lapsed_today: int
    in_condonation: int
    defences: int


def compute(
    conn: Connection, tenants: list[object], as_of: datetime, *, run_id: int, job_name: str
) -> Computed:
    """Bring the register of ``tenants`` up to ``as_of`` inside the caller's transaction."""
    params = {"tenants": tenants, "as_of": as_of, "run_id": run_id, "job_name": job_name}
    # These statements are long expressions over many rows: PostgreSQL's JIT spends
    # ~30 s compiling them (measured) to save well under a second. Off, for this
    # transaction only.
    conn.execute(text("SET LOCAL jit = off"))
    # Hashes of a few hundred thousand proceedings must stay in memory: with the default
    # 4 MB PostgreSQL falls back to re-scanning (measured: minutes at 270k proceedings).
    conn.execute(text("SET LOCAL work_mem = '64MB'"))
    for table in ("limitation_todo", "limitation_computed"):
        conn.execute(text(f"DROP TABLE IF EXISTS {table}"))  # our constant names
    conn.execute(TODO, params)
    conn.execute(text("CREATE UNIQUE INDEX ON limitation_todo (proceeding_id)"))
    conn.execute(text("ANALYZE limitation_todo"))
    conn.execute(COMPUTE, params)
    conn.execute(text("ANALYZE limitation_computed"))
    recomputed = conn.execute(text("SELECT count(*) FROM limitation_computed")).scalar_one()
    upsert = conn.execute(UPSERT, params).one()
    removed = conn.execute(REMOVE_STALE, params).rowcount
    if upsert.written + removed > ANALYZE_AFTER:
        # The register just grew or changed a lot (a first run, a rule change): the
        # statements below are planned on its statistics, which autovacuum has not
        # caught up with yet (stale, they make the planner nest loops per practice).
        conn.execute(text("ANALYZE limitation_dates"))
    refreshed = conn.execute(REFRESH_STATUS, params).rowcount
    conn.execute(REMEMBER_INPUTS, params)
    counts = conn.execute(COUNTS, params).one()
    return Computed(
        counts.dates,
        recomputed,
        upsert.written + refreshed,
        upsert.due_changed,
        removed,
        counts.due_in_7,
        counts.lapsed_today,
        counts.in_condonation,
        counts.defences,
    )
