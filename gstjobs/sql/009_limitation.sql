-- Statutory limitation (issue 13): proceedings and their events, reference data with
-- sources, the versioned rule table, the register of computed dates, and the new event
-- types. Every table is new, or gains columns with defaults, so an existing database
-- keeps working. The rules and reference rows are data: a practice can correct or add
-- one with an UPDATE/INSERT (see docs/statutory-dates.md, "Adding or correcting a rule");
-- a law change is a reviewed data migration, never a code branch.

-- ---------------------------------------------------------------- date helpers
-- Calendar months, clamped to the month's last day (30-11 + 3 months = 28-02). The
-- same arithmetic as gstjobs.limitation.dates.add_months; a test keeps them equal.
CREATE OR REPLACE FUNCTION gstjobs_add_months(d date, n integer) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT (d + make_interval(months => n))::date $$;

-- n months before d, for a defence: counting back from the last day of a month, the
-- last day of the earlier month (30-04 - 3 = 31-01, where day-number arithmetic gives
-- 30-01). Both readings are in use; a defence takes the later one (never claim a
-- time-bar falsely) and the register flags the row as ambiguous.
CREATE OR REPLACE FUNCTION gstjobs_months_before_latest(d date, n integer) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN d = (date_trunc('month', d) + interval '1 month - 1 day')::date
              THEN (date_trunc('month', gstjobs_add_months(d, -n)) + interval '1 month - 1 day')::date
              ELSE gstjobs_add_months(d, -n) END
$$;

-- Rupees the Indian way: 142000 -> ₹1,42,000 (messages and listings).
CREATE OR REPLACE FUNCTION gstjobs_inr(n numeric) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN n < 0 THEN '-' ELSE '' END || '₹' ||
         CASE WHEN length(s) <= 3 THEN s
              ELSE regexp_replace(left(s, length(s) - 3), '(\d)(?=(\d\d)+$)', '\1,', 'g')
                   || ',' || right(s, 3) END
  FROM (SELECT round(abs(n))::text AS s) AS x
$$;

-- '04-02-2027 (Thu)': a date as a practitioner writes it.
CREATE OR REPLACE FUNCTION gstjobs_show_date(d date) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT to_char(d, 'DD-MM-YYYY') || ' (' || (ARRAY['Mon','Tue','Wed','Thu','Fri','Sat','Sun'])[extract(isodow FROM d)] || ')'
$$;

-- ---------------------------------------------------------------- reference data
CREATE TABLE IF NOT EXISTS holidays (
  id bigserial PRIMARY KEY,
  state_code char(2),                       -- NULL: national
  date date NOT NULL,
  name text NOT NULL,
  source text NOT NULL DEFAULT 'entered by the practice'
);
CREATE INDEX IF NOT EXISTS holidays_date_idx ON holidays (date);

-- The last working day before d (Saturdays, Sundays and holidays of the state skipped).
-- Only used for the few rows a message or a listing shows.
CREATE OR REPLACE FUNCTION gstjobs_previous_working_day(d date, state char(2)) RETURNS date
LANGUAGE sql STABLE AS $$
  SELECT max(x)::date FROM generate_series(d - 14, d - 1, interval '1 day') AS g (x)
  WHERE extract(isodow FROM x) < 6
    AND NOT EXISTS (SELECT 1 FROM holidays h WHERE h.date = x::date
                    AND (h.state_code IS NULL OR h.state_code = state))
$$;

CREATE OR REPLACE FUNCTION gstjobs_falls_on_holiday(d date, state char(2)) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT extract(isodow FROM d) >= 6
      OR EXISTS (SELECT 1 FROM holidays h WHERE h.date = d
                 AND (h.state_code IS NULL OR h.state_code = state))
$$;

-- Due date of the annual return (GSTR-9) per FY; state/district rows where they differ.
CREATE TABLE IF NOT EXISTS annual_return_due_dates (
  id bigserial PRIMARY KEY,
  fy text NOT NULL CHECK (fy ~ '^[0-9]{4}-[0-9]{2}$'),
  state_code char(2),                       -- NULL: every state
  district text,                            -- NULL: every district
  due_date date NOT NULL,
  source text NOT NULL,
  confidence text NOT NULL DEFAULT 'settled'
    CHECK (confidence IN ('verified', 'settled', 'uncertain', 'contested')),
  note text
);
CREATE UNIQUE INDEX IF NOT EXISTS annual_return_due_dates_key
  ON annual_return_due_dates (fy, COALESCE(state_code, '**'), COALESCE(district, ''));

-- Dates fixed by notification in place of the computed one (s.168A extensions …).
CREATE TABLE IF NOT EXISTS limitation_overrides (
  id bigserial PRIMARY KEY,
  fy text NOT NULL,
  section text NOT NULL CHECK (section IN ('SCN_S73', 'SCN_S74', 'SCN_S74A')),
  what text NOT NULL CHECK (what IN ('order_by', 'scn_by')),
  state_code char(2),
  date date NOT NULL,
  source text NOT NULL,
  contested boolean NOT NULL DEFAULT false,
  note text
);
CREATE UNIQUE INDEX IF NOT EXISTS limitation_overrides_key
  ON limitation_overrides (fy, section, what, COALESCE(state_code, '**'));

-- Dates notified by the Government that replace a computed due date when later
-- (s.112(1): "or the date, as may be notified …, whichever is later").
CREATE TABLE IF NOT EXISTS notified_dates (
  id bigserial PRIMARY KEY,
  rule_id text NOT NULL,
  communicated_before date NOT NULL,        -- applies to orders communicated before this day
  date date NOT NULL,
  source text NOT NULL,
  confidence text NOT NULL CHECK (confidence IN ('verified', 'settled', 'uncertain', 'contested')),
  enabled boolean NOT NULL DEFAULT true,
  note text
);

-- Periods that do not count (a stay, the Supreme Court's COVID exclusion …).
CREATE TABLE IF NOT EXISTS limitation_exclusions (
  id bigserial PRIMARY KEY,
  tenant_id uuid,                           -- NULL: every practice
  proceeding_id uuid,                       -- NULL: every proceeding (of the tenant)
  from_date date NOT NULL,
  to_date date NOT NULL CHECK (to_date >= from_date),
  reason text NOT NULL,
  source text NOT NULL DEFAULT 'entered by the practice',
  enabled boolean NOT NULL DEFAULT true
);
CREATE INDEX IF NOT EXISTS limitation_exclusions_idx
  ON limitation_exclusions (tenant_id, proceeding_id) WHERE enabled;

-- ---------------------------------------------------------------- proceedings
-- One row per document in a dispute: notice, order, appeal; a matter is a chain of them.
CREATE TABLE IF NOT EXISTS proceedings (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  case_id uuid NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
  parent_id uuid REFERENCES proceedings (id) ON DELETE SET NULL,
  kind text NOT NULL CHECK (kind IN (
    'ASMT_10', 'DRC_01A', 'SCN_S73', 'SCN_S74', 'SCN_S74A', 'ORDER_S73', 'ORDER_S74',
    'ORDER_S74A', 'ORDER_OTHER', 'APL_01_FILED', 'ORDER_IN_APPEAL', 'APL_05_FILED',
    'APL_06_NOTICE', 'GSTAT_ORDER', 'HC_APPEAL_FILED', 'WRIT_FILED', 'REMAND_DIRECTION',
    'RECTIFICATION_APPLIED', 'REG_17', 'RFD_08')),
  issued_by text NOT NULL DEFAULT 'department'
    CHECK (issued_by IN ('department', 'taxpayer', 'forum')),
  authority text,
  jurisdiction text CHECK (jurisdiction IN ('CGST', 'SGST', 'IGST_CENTRE')),
  reference_no text,
  din text,
  issue_date date NOT NULL,
  communicated_date date,                   -- NULL: unknown (the issue date is assumed)
  reply_by_date date,
  financial_years text[] NOT NULL DEFAULT '{}',
  fraud_alleged boolean,
  gstin text,
  state_code char(2),
  district text,
  tax_cgst numeric, tax_sgst numeric, tax_igst numeric, cess numeric,
  interest numeric, penalty numeric, late_fee numeric,
  admitted_tax numeric NOT NULL DEFAULT 0,
  representative_id uuid REFERENCES users (id) ON DELETE SET NULL,
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'concluded', 'superseded')),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS proceedings_tenant_open_idx ON proceedings (tenant_id) WHERE status = 'open';
CREATE INDEX IF NOT EXISTS proceedings_parent_idx ON proceedings (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS proceedings_case_idx ON proceedings (case_id);

CREATE TABLE IF NOT EXISTS proceeding_events (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  proceeding_id uuid NOT NULL REFERENCES proceedings (id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('REPLY_FILED', 'PAYMENT_DRC03', 'PRE_DEPOSIT_PAID',
    'APPEAL_FILED', 'EXTENSION_GRANTED', 'ADJOURNMENT_GRANTED', 'ADJOURNMENT_REFUSED',
    'PH_HELD', 'ORDER_RECEIVED', 'CONDONATION_SOUGHT', 'STAY_GRANTED', 'STAY_VACATED',
    'WITHDRAWN', 'RECTIFICATION_APPLIED', 'ORDER_TIME_EXTENDED')),
  event_date date NOT NULL,
  sought_by text CHECK (sought_by IN ('taxpayer', 'department')),
  new_due_date date,
  amount numeric,
  reference_no text,
  note text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS proceeding_events_proceeding_idx
  ON proceeding_events (proceeding_id, kind, event_date);

-- ---------------------------------------------------------------- the rules
-- A versioned rule table: the version in force is chosen by the relevant date (the
-- anchor; for a pre-deposit, the filing date). method names the shape of the
-- computation (a handful, in gstjobs/limitation/compute.py); every number is here.
CREATE TABLE IF NOT EXISTS limitation_rules (
  rule_id text NOT NULL,
  version integer NOT NULL,
  title text NOT NULL,                      -- what to file / what the date is
  forum text NOT NULL,                      -- before whom
  applies_to text[] NOT NULL,               -- proceeding kinds
  method text NOT NULL CHECK (method IN ('period', 'reply_by', 'reply_by_capped',
    'scn_by', 'order_by', 'notified_later', 'predeposit', 'adjournments', 'none')),
  anchor text NOT NULL CHECK (anchor IN ('issue_date', 'communicated_date', 'fy_due_date',
    'none')),
  period_months integer NOT NULL DEFAULT 0,
  period_days integer NOT NULL DEFAULT 0,
  outer_months integer,                     -- condonation beyond the due date
  outer_days integer,
  kind text NOT NULL CHECK (kind IN ('hard', 'condonable', 'officer_extendable', 'department',
    'defence', 'info')),
  thresholds integer[] NOT NULL DEFAULT '{30,15,7,3,1,0}',   -- days before due that alert
  admins_from integer,                      -- admins told from this many days before due
  met_by text[] NOT NULL DEFAULT '{}',      -- proceeding_events kinds that satisfy it
  met_by_children text[] NOT NULL DEFAULT '{}',  -- child proceeding kinds that satisfy it
  params jsonb NOT NULL DEFAULT '{}'::jsonb,
  consequence text NOT NULL,
  source text NOT NULL,
  confidence text NOT NULL CHECK (confidence IN ('verified', 'settled', 'uncertain', 'contested')),
  enabled_by_default boolean NOT NULL,
  why_off text,                             -- why a rule is off by default
  effective_from date NOT NULL DEFAULT DATE '2017-07-01',
  effective_to date,
  PRIMARY KEY (rule_id, version),
  CHECK (enabled_by_default OR why_off IS NOT NULL)
);

-- A practice may switch a rule on or off for itself (e.g. accept an uncertain one).
CREATE TABLE IF NOT EXISTS limitation_rule_settings (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  rule_id text NOT NULL,
  enabled boolean NOT NULL,
  PRIMARY KEY (tenant_id, rule_id)
);

-- ---------------------------------------------------------------- the register
CREATE TABLE IF NOT EXISTS limitation_dates (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  proceeding_id uuid NOT NULL REFERENCES proceedings (id) ON DELETE CASCADE,
  rule_id text NOT NULL,
  fy text NOT NULL DEFAULT '*',
  case_id uuid NOT NULL,
  rule_version integer NOT NULL,
  kind text NOT NULL,
  due_date date NOT NULL,
  due_at timestamptz NOT NULL,              -- 23:59:59 of due_date in the practice's zone
  outer_date date,
  target_date date NOT NULL,
  anchor_name text NOT NULL,
  anchor_date date NOT NULL,
  assumed boolean NOT NULL DEFAULT false,   -- communication date unknown: issue date used
  ambiguous boolean NOT NULL DEFAULT false, -- state/district unknown: candidates differed
  practice_default boolean NOT NULL DEFAULT false,  -- no date in the notice: 30 days used
  falls_on_holiday boolean NOT NULL DEFAULT false,
  confidence text NOT NULL,
  source text NOT NULL,
  amount numeric,
  amounts jsonb,
  notes text[] NOT NULL DEFAULT '{}',      -- flags for the reader: contested, ambiguous …
  status text NOT NULL CHECK (status IN ('open', 'met', 'met_late', 'lapsed', 'not_applicable',
    'defence_found')),
  met_date date,
  computed_at timestamptz NOT NULL,
  PRIMARY KEY (proceeding_id, rule_id, fy)
);
CREATE INDEX IF NOT EXISTS limitation_dates_tenant_due_idx ON limitation_dates (tenant_id, due_date);

-- ---------------------------------------------------------------- new event types
ALTER TABLE automation_events DROP CONSTRAINT IF EXISTS automation_events_event_type_check;
ALTER TABLE automation_events ADD CONSTRAINT automation_events_event_type_check
  CHECK (event_type IN ('task_overdue', 'sla_violation', 'deadline_approaching',
    'limitation_approaching', 'limitation_lapsed', 'condonation_closing',
    'limitation_defence_found', 'adjournment_cap_reached')) NOT VALID;
ALTER TABLE automation_rules DROP CONSTRAINT IF EXISTS automation_rules_trigger_event_check;
ALTER TABLE automation_rules ADD CONSTRAINT automation_rules_trigger_event_check
  CHECK (trigger_event IN ('task_overdue', 'sla_violation', 'deadline_approaching',
    'limitation_approaching', 'limitation_lapsed', 'condonation_closing',
    'limitation_defence_found', 'adjournment_cap_reached')) NOT VALID;

-- ================================================================ reference rows
-- Each row carries its source; docs/statutory-dates.md says how each was verified.
INSERT INTO annual_return_due_dates (fy, state_code, district, due_date, source, confidence, note)
VALUES
  ('2017-18', NULL, NULL, DATE '2020-02-07',
   'GSTR-9 FY 2017-18 due date as extended by CBIC (05-02-2020 in some states, 07-02-2020 in others)',
   'settled', 'the later date is kept for every state: it can only delay a time-bar finding'),
  ('2018-19', NULL, NULL, DATE '2020-12-31', 'GSTR-9 FY 2018-19 due date as extended by CBIC', 'settled', NULL),
  ('2019-20', NULL, NULL, DATE '2021-03-31', 'GSTR-9 FY 2019-20 due date as extended by CBIC', 'settled', NULL),
  ('2020-21', NULL, NULL, DATE '2022-02-28', 'GSTR-9 FY 2020-21 due date extended from 31-12-2021 to 28-02-2022 (CBIC)', 'settled', NULL),
  ('2021-22', NULL, NULL, DATE '2022-12-31', 'Rule 80(1) CGST Rules: 31 December after the FY', 'settled', NULL),
  ('2022-23', NULL, NULL, DATE '2023-12-31', 'Rule 80(1) CGST Rules: 31 December after the FY', 'settled', NULL),
  ('2023-24', NULL, NULL, DATE '2024-12-31', 'Rule 80(1) CGST Rules: 31 December after the FY', 'settled', NULL),
  ('2024-25', NULL, NULL, DATE '2025-12-31', 'Rule 80(1) CGST Rules: 31 December after the FY', 'settled',
   'no general or regional extension found in the sources searched (docs/statutory-dates.md)'),
  ('2025-26', NULL, NULL, DATE '2026-12-31', 'Rule 80(1) CGST Rules: 31 December after the FY', 'uncertain',
   'statutory default; not yet passed when loaded: check for an extension')
ON CONFLICT DO NOTHING;

INSERT INTO annual_return_due_dates (fy, state_code, district, due_date, source, confidence)
SELECT '2022-23', '33', d, DATE '2024-01-10',
       'Rule 80(1B) inserted by N/N 02/2024-Central Tax dt 05-01-2024 (principal place of business in the district)',
       'verified'
FROM unnest(ARRAY['Chennai', 'Tiruvallur', 'Chengalpattu', 'Kancheepuram', 'Tirunelveli', 'Tenkasi',
                  'Kanyakumari', 'Thoothukudi', 'Virudhunagar']) AS d
ON CONFLICT DO NOTHING;

INSERT INTO limitation_overrides (fy, section, what, date, source, contested, note) VALUES
  ('2017-18', 'SCN_S73', 'order_by', DATE '2023-12-31',
   's.168A: N/N 13/2022-Central Tax dt 05-07-2022 (to 30-09-2023), then N/N 09/2023-Central Tax', true,
   'N/N 09/2023 held invalid by the Madras HC (Tata Play, 12-06-2025); challenges pending before the Supreme Court'),
  ('2018-19', 'SCN_S73', 'order_by', DATE '2024-04-30',
   's.168A: N/N 56/2023-Central Tax dt 28-12-2023', true,
   'N/N 56/2023 held invalid by the Madras HC (Tata Play, 12-06-2025); challenges pending before the Supreme Court'),
  ('2019-20', 'SCN_S73', 'order_by', DATE '2024-08-31',
   's.168A: N/N 56/2023-Central Tax dt 28-12-2023', true,
   'N/N 56/2023 held invalid by the Madras HC (Tata Play, 12-06-2025); challenges pending before the Supreme Court')
ON CONFLICT DO NOTHING;

INSERT INTO notified_dates (rule_id, communicated_before, date, source, confidence, enabled, note) VALUES
  ('APL05_APPEAL', DATE '2026-04-01', DATE '2026-06-30',
   's.112(1) CGST Act; S.O. 4220(E) dt 17-09-2025 (Gazette CG-DL-E-17092025-266217)', 'verified', true, NULL),
  ('APL05_APPEAL', DATE '2026-05-01', DATE '2026-07-31',
   'reported notification dt 30-06-2026 superseding S.O. 4220(E); S.O. number not cited by any source found',
   'uncertain', false, 'off until its S.O. number and text are confirmed from the Gazette');

INSERT INTO limitation_exclusions (tenant_id, proceeding_id, from_date, to_date, reason, source, enabled)
VALUES (NULL, NULL, DATE '2020-03-15', DATE '2022-02-28',
        'Supreme Court COVID exclusion of limitation',
        'In re: Cognizance for Extension of Limitation, Supreme Court order dt 10-01-2022', false);

-- ================================================================ the rules
INSERT INTO limitation_rules (rule_id, version, title, forum, applies_to, method, anchor,
  period_months, period_days, outer_months, outer_days, kind, thresholds, admins_from, met_by,
  met_by_children, params, consequence, source, confidence, enabled_by_default, why_off,
  effective_from, effective_to) VALUES
('ASMT11_REPLY', 1, 'ASMT-11 reply to the scrutiny notice', 'the proper officer (scrutiny u/s 61)',
 '{ASMT_10}', 'reply_by_capped', 'communicated_date', 0, 30, NULL, NULL, 'officer_extendable',
 '{15,7,3,1,0}', NULL, '{REPLY_FILED}', '{}', '{}',
 'No satisfactory explanation: the officer may proceed under s.65, 66, 67 or s.73/74/74A (s.61(3)).',
 'Rule 99(2) CGST Rules: within the time in the notice, not exceeding 30 days from service; s.61', 'settled',
 true, NULL, DATE '2017-07-01', NULL),
('DRC01A_REPLY', 1, 'DRC-01A Part B reply or payment', 'the proper officer',
 '{DRC_01A}', 'reply_by', 'communicated_date', 0, 0, NULL, NULL, 'officer_extendable',
 '{15,7,3,1,0}', NULL, '{REPLY_FILED,PAYMENT_DRC03}', '{}', '{}',
 'After this date the officer may issue the SCN; paying before it keeps the s.73(5) / s.74(5) benefit.',
 'Rule 142(1A), (2A) CGST Rules: by the date in the intimation', 'settled', true, NULL,
 DATE '2017-07-01', NULL),
('PRE_SCN_PAY_WINDOW', 1, 'Pay before the SCN (s.73(5) no penalty / s.74(5) 15%)', 'the proper officer',
 '{DRC_01A}', 'none', 'none', 0, 0, NULL, NULL, 'info', '{}', NULL, '{PAYMENT_DRC03}', '{}', '{}',
 'The reduced-penalty window closes when the SCN is served.',
 's.73(5), s.74(5) CGST Act; Rule 142(2A)', 'settled', false,
 'has no date of its own (open until an SCN is served); whether DRC-01A is mandatory is contested',
 DATE '2017-07-01', NULL),
('DRC06_REPLY', 1, 'DRC-06 reply to the show-cause notice', 'the adjudicating authority',
 '{SCN_S73,SCN_S74,SCN_S74A}', 'reply_by', 'issue_date', 0, 30, NULL, NULL, 'officer_extendable',
 '{15,7,3,1,0}', NULL, '{REPLY_FILED}', '{}', '{}',
 'No reply: an ex-parte order may follow (still appealable).',
 'Rule 142(4) CGST Rules: by the date in the SCN (30 days is practice, used when the SCN states none)',
 'settled', true, NULL, DATE '2017-07-01', NULL),
('SCN_PAY_WINDOW', 1, 'Pay tax and interest within the SCN window', 'the proper officer (DRC-03)',
 '{SCN_S73,SCN_S74}', 'period', 'issue_date', 0, 30, NULL, NULL, 'info', '{7,1,0}', NULL,
 '{PAYMENT_DRC03}', '{}',
 '{"slab": {"SCN_S73": "no penalty: proceedings deemed concluded (s.73(8))", "SCN_S74": "penalty 25% of tax (s.74(8))"}}',
 'After it: s.73 penalty 10% of tax or ₹10,000, whichever is higher (s.73(9)); s.74 penalty 50% within 30 days of the order (s.74(11)), else 100%.',
 's.73(8), s.74(8) CGST Act: within 30 days of issue of the SCN', 'settled', true, NULL,
 DATE '2017-07-01', NULL),
('SCN_PAY_WINDOW_74A', 1, 'Pay tax and interest within the s.74A SCN window', 'the proper officer (DRC-03)',
 '{SCN_S74A}', 'period', 'issue_date', 0, 60, NULL, NULL, 'info', '{7,1,0}', NULL,
 '{PAYMENT_DRC03}', '{}', '{}',
 'After it the reduced penalty of s.74A is lost.',
 's.74A CGST Act (reduced-penalty windows of 60 days; 53rd GST Council)', 'uncertain', false,
 'the sub-section numbers and whether the 60 days run from issue or communication were not verified',
 DATE '2024-11-01', NULL),
('SCN_LIMITATION_DEFENCE', 1, 'Time limit for the SCN (defence)', 'the adjudicating authority',
 '{SCN_S73,SCN_S74,SCN_S74A}', 'scn_by', 'fy_due_date', 0, 0, NULL, NULL, 'defence', '{}', NULL,
 '{}', '{}',
 '{"order_months": {"SCN_S73": 36, "SCN_S74": 60}, "scn_before_order_months": {"SCN_S73": 3, "SCN_S74": 6}, "scn_months": {"SCN_S74A": 42}}',
 'An SCN issued after this date appears time-barred for that financial year: a finding for the lawyer to plead, never acted on.',
 's.73(2), (10); s.74(2), (10); s.74A(2) CGST Act', 'settled', true, NULL, DATE '2017-07-01', NULL),
('ORDER_DEADLINE', 1, 'Last date for the adjudication order', 'the adjudicating authority',
 '{SCN_S73,SCN_S74,SCN_S74A}', 'order_by', 'fy_due_date', 0, 0, NULL, NULL, 'department', '{30}', NULL,
 '{ORDER_RECEIVED}', '{ORDER_S73,ORDER_S74,ORDER_S74A,ORDER_OTHER}',
 '{"order_months": {"SCN_S73": 36, "SCN_S74": 60}, "from_issue_months": {"SCN_S74A": 12}, "extension_months": {"SCN_S74A": 6}}',
 'No order by this date: the proceedings appear to be deemed concluded u/s 75(10), a finding for the lawyer, never acted on.',
 's.73(10), s.74(10), s.74A(7) (12 months from the SCN, extendable by up to 6 months by the Commissioner or an authorised senior officer), s.75(10) CGST Act',
 'settled', true, NULL, DATE '2017-07-01', NULL),
('PH_ADJOURNMENT_CAP', 1, 'Adjournments of the personal hearing', 'the adjudicating authority',
 '{SCN_S73,SCN_S74,SCN_S74A}', 'adjournments', 'none', 0, 0, NULL, NULL, 'info', '{}', NULL, '{}', '{}',
 '{"cap": 3, "warn_at": 2}',
 'No further adjournment can be granted u/s 75(5); prepare to argue on the next date.',
 's.75(5) CGST Act: not more than three times to a person during the proceedings', 'verified', true,
 NULL, DATE '2017-07-01', NULL),
('ORDER_PAY_REDUCED_PENALTY', 1, 'Pay within 30 days of the order for the 50% penalty', 'the proper officer (DRC-03)',
 '{ORDER_S74}', 'period', 'communicated_date', 0, 30, NULL, NULL, 'info', '{7,1,0}', NULL,
 '{PAYMENT_DRC03}', '{}', '{}',
 'After it the penalty is 100% of the tax.',
 's.74(11) CGST Act: within 30 days of communication of the order', 'verified', true, NULL,
 DATE '2017-07-01', NULL),
('ORDER_PAY_REDUCED_PENALTY_74A', 1, 'Pay within 60 days of the s.74A order for the reduced penalty',
 'the proper officer (DRC-03)', '{ORDER_S74A}', 'period', 'communicated_date', 0, 60, NULL, NULL, 'info',
 '{7,1,0}', NULL, '{PAYMENT_DRC03}', '{}', '{}', 'After it the full penalty applies.',
 's.74A CGST Act (60-day window after the order; 53rd GST Council)', 'uncertain', false,
 'the sub-section and its anchor (issue or communication) were not verified', DATE '2024-11-01', NULL),
('APL01_APPEAL', 1, 'APL-01 first appeal', 'the Appellate Authority',
 '{ORDER_S73,ORDER_S74,ORDER_S74A,ORDER_OTHER}', 'period', 'communicated_date', 3, 0, 1, NULL,
 'condonable', '{30,15,7,3,1,0}', 7, '{APPEAL_FILED}', '{APL_01_FILED}', '{}',
 'After the further month no appeal lies: the Appellate Authority cannot condone beyond it; only a writ, rarely granted.',
 's.107(1), (4) CGST Act: 3 months from communication, plus 1 month on sufficient cause', 'verified',
 true, NULL, DATE '2017-07-01', NULL),
('APL01_PREDEPOSIT', 1, 'Pre-deposit for the APL-01 appeal', 'the Appellate Authority (paid before filing)',
 '{ORDER_S73,ORDER_S74,ORDER_S74A,ORDER_OTHER}', 'predeposit', 'communicated_date', 3, 0, 1, NULL, 'hard',
 '{30,15,7,3,1,0}', 7, '{PRE_DEPOSIT_PAID}', '{}',
 '{"pct": 10, "caps": {"cgst": 250000000, "sgst": 250000000, "igst": 500000000, "cess": 250000000}}',
 'No appeal can be filed without it; the balance is stayed once it is paid (s.107(7)).',
 's.107(6) CGST Act: admitted amount in full plus 10% of the disputed tax (cap ₹25 crore per head, IGST ₹50 crore, before 01-11-2024)',
 'settled', true, NULL, DATE '2017-07-01', DATE '2024-10-31'),
('APL01_PREDEPOSIT', 2, 'Pre-deposit for the APL-01 appeal', 'the Appellate Authority (paid before filing)',
 '{ORDER_S73,ORDER_S74,ORDER_S74A,ORDER_OTHER}', 'predeposit', 'communicated_date', 3, 0, 1, NULL, 'hard',
 '{30,15,7,3,1,0}', 7, '{PRE_DEPOSIT_PAID}', '{}',
 '{"pct": 10, "caps": {"cgst": 200000000, "sgst": 200000000, "igst": 400000000, "cess": 200000000}}',
 'No appeal can be filed without it; the balance is stayed once it is paid (s.107(7)).',
 's.107(6) CGST Act as amended by the Finance (No. 2) Act 2024 (cap ₹20 crore per head, IGST ₹40 crore), in force 01-11-2024 (N/N 17/2024-Central Tax)',
 'verified', true, NULL, DATE '2024-11-01', DATE '2025-09-30'),
('APL01_PREDEPOSIT', 3, 'Pre-deposit for the APL-01 appeal', 'the Appellate Authority (paid before filing)',
 '{ORDER_S73,ORDER_S74,ORDER_S74A,ORDER_OTHER}', 'predeposit', 'communicated_date', 3, 0, 1, NULL, 'hard',
 '{30,15,7,3,1,0}', 7, '{PRE_DEPOSIT_PAID}', '{}',
 '{"pct": 10, "penalty_only_pct": 10, "caps": {"cgst": 200000000, "sgst": 200000000, "igst": 400000000, "cess": 200000000}}',
 'No appeal can be filed without it; the balance is stayed once it is paid (s.107(7)).',
 's.107(6) CGST Act; proviso (penalty-only orders: 10% of the penalty) by the Finance Act 2025, in force 01-10-2025 (N/N 16/2025-Central Tax dt 17-09-2025); not retrospective (Calcutta HC, 13-11-2025)',
 'verified', true, NULL, DATE '2025-10-01', NULL),
('RECOVERY_S78', 1, 'Recovery may start (amount payable within 3 months of service)', 'the proper officer',
 '{ORDER_S73,ORDER_S74,ORDER_S74A,ORDER_OTHER}', 'period', 'communicated_date', 3, 0, NULL, NULL, 'info',
 '{7}', NULL, '{APPEAL_FILED,PAYMENT_DRC03}', '{APL_01_FILED}', '{}',
 'Unpaid and unappealed after it: recovery u/s 79 (bank attachment). Appeal with pre-deposit stays it (s.107(7)). The officer may demand earlier, with reasons.',
 's.78 CGST Act: within three months from the date of service of the order', 'verified', true, NULL,
 DATE '2017-07-01', NULL),
('RECTIFICATION_S161', 1, 'Rectification application', 'the authority that passed the order',
 '{ORDER_S73,ORDER_S74,ORDER_S74A,ORDER_OTHER,ORDER_IN_APPEAL}', 'period', 'issue_date', 3, 0, NULL, NULL,
 'hard', '{15,7,1}', NULL, '{RECTIFICATION_APPLIED}', '{RECTIFICATION_APPLIED}', '{}',
 'After it the affected person cannot apply; the authority cannot rectify after 6 months from issue (clerical slips aside).',
 's.161 CGST Act: within three months from the date of issue', 'settled', true, NULL,
 DATE '2017-07-01', NULL),
('DEPT_APPEAL_WINDOW', 1, 'Department''s appeal window (order final if none)', 'the Appellate Authority',
 '{ORDER_S73,ORDER_S74,ORDER_S74A,ORDER_OTHER}', 'period', 'issue_date', 6, 0, NULL, NULL, 'info', '{}',
 NULL, '{}', '{}', '{}', 'Tells the practice when a favourable order becomes safe.',
 's.107(2) CGST Act: 6 months from communication to the department (its date is unknown; issue date used)',
 'settled', false, 'needs to know the order was favourable; no field records the outcome yet',
 DATE '2017-07-01', NULL),
('APL05_APPEAL', 1, 'APL-05 appeal to the GST Appellate Tribunal', 'the GST Appellate Tribunal',
 '{ORDER_IN_APPEAL}', 'notified_later', 'communicated_date', 3, 0, 3, NULL, 'condonable',
 '{30,15,7,3,1,0}', 7, '{APPEAL_FILED}', '{APL_05_FILED}', '{}',
 'After the condonable 3 months the Tribunal cannot admit the appeal.',
 's.112(1), (6) CGST Act (as amended, in force 01-11-2024): 3 months from communication or the notified date, whichever is later; 3 more on sufficient cause',
 'verified', true, NULL, DATE '2017-07-01', NULL),
('APL05_PREDEPOSIT', 1, 'Pre-deposit for the GSTAT appeal', 'the GST Appellate Tribunal (paid before filing)',
 '{ORDER_IN_APPEAL}', 'predeposit', 'communicated_date', 3, 0, 3, NULL, 'hard', '{30,15,7,3,1,0}', 7,
 '{PRE_DEPOSIT_PAID}', '{}',
 '{"pct": 10, "notified_rule": "APL05_APPEAL", "caps": {"cgst": 200000000, "sgst": 200000000, "igst": 400000000, "cess": 200000000}}',
 'No appeal without it, in addition to the s.107(6) deposit; the balance is stayed once paid (s.112(9)).',
 's.112(8) CGST Act as amended by the Finance (No. 2) Act 2024 (10% of the remaining tax in dispute, cap ₹20 crore), in force 01-11-2024 (N/N 17/2024-Central Tax)',
 'settled', true, NULL, DATE '2024-11-01', DATE '2025-09-30'),
('APL05_PREDEPOSIT', 2, 'Pre-deposit for the GSTAT appeal', 'the GST Appellate Tribunal (paid before filing)',
 '{ORDER_IN_APPEAL}', 'predeposit', 'communicated_date', 3, 0, 3, NULL, 'hard', '{30,15,7,3,1,0}', 7,
 '{PRE_DEPOSIT_PAID}', '{}',
 '{"pct": 10, "penalty_only_pct": 10, "notified_rule": "APL05_APPEAL", "caps": {"cgst": 200000000, "sgst": 200000000, "igst": 400000000, "cess": 200000000}}',
 'No appeal without it, in addition to the s.107(6) deposit; the balance is stayed once paid (s.112(9)).',
 's.112(8) CGST Act; penalty-only orders 10% of the penalty from 01-10-2025 (Finance Act 2025, N/N 16/2025-Central Tax)',
 'settled', true, NULL, DATE '2025-10-01', NULL),
('APL06_CROSS_OBJECTION', 1, 'APL-06 memorandum of cross-objections', 'the GST Appellate Tribunal',
 '{APL_06_NOTICE}', 'period', 'communicated_date', 0, 45, NULL, 45, 'condonable', '{30,15,7,3,1,0}', 7,
 '{REPLY_FILED}', '{}', '{}', 'After the further 45 days the Tribunal cannot admit it.',
 's.112(5), (6) CGST Act: 45 days of receipt of the notice of appeal, plus 45 on sufficient cause',
 'settled', true, NULL, DATE '2017-07-01', NULL),
('HC_APPEAL_S117', 1, 'Appeal to the High Court (substantial question of law)', 'the High Court',
 '{GSTAT_ORDER}', 'period', 'communicated_date', 0, 180, NULL, NULL, 'condonable', '{30,15,7,3,1,0}', 7,
 '{APPEAL_FILED}', '{HC_APPEAL_FILED}', '{}',
 'Later only with an application showing sufficient cause (no outer limit in the Act). Principal Bench orders go to the Supreme Court (s.118) instead.',
 's.117(1), (2) CGST Act: 180 days from receipt of a State Bench order', 'verified', true, NULL,
 DATE '2017-07-01', NULL),
('SC_APPEAL_S118', 1, 'Appeal to the Supreme Court', 'the Supreme Court', '{GSTAT_ORDER}', 'period',
 'communicated_date', 0, 60, NULL, NULL, 'condonable', '{30,15,7,3,1,0}', 7, '{APPEAL_FILED}', '{}', '{}',
 'Principal Bench orders: appeal to the Supreme Court.',
 's.118 CGST Act (no period in the Act; the Code of Civil Procedure and the Supreme Court Rules apply)',
 'uncertain', false, 's.118 states no period; the period under the Supreme Court Rules was not verified',
 DATE '2017-07-01', NULL),
('REMAND_ORDER_S75_3', 1, 'Fresh order after remand', 'the adjudicating authority',
 '{REMAND_DIRECTION}', 'period', 'communicated_date', 24, 0, NULL, NULL, 'department', '{30}', NULL,
 '{ORDER_RECEIVED}', '{}', '{}',
 'No fresh order by then: a defence for the client (s.75(3)), a finding for the lawyer.',
 's.75(3) CGST Act: within two years from communication of the direction', 'settled', true, NULL,
 DATE '2017-07-01', NULL),
('REG17_REPLY', 1, 'REG-18 reply to the cancellation SCN', 'the proper officer (registration)',
 '{REG_17}', 'period', 'communicated_date', 0, 7, NULL, NULL, 'officer_extendable', '{3,1,0}', NULL,
 '{REPLY_FILED}', '{}', '{}', 'Registration may be cancelled.', 'Rule 22(1) CGST Rules (7 working days)',
 'uncertain', false, 'from memory; the period is in working days, which the watch does not count yet',
 DATE '2017-07-01', NULL),
('RFD08_REPLY', 1, 'RFD-09 reply to the refund SCN', 'the proper officer (refund)', '{RFD_08}', 'period',
 'communicated_date', 0, 15, NULL, NULL, 'officer_extendable', '{7,3,1,0}', NULL, '{REPLY_FILED}', '{}',
 '{}', 'The refund may be rejected.', 'Rule 92(3) CGST Rules (15 days)', 'uncertain', false,
 'from memory; not verified against the rule text', DATE '2017-07-01', NULL)
ON CONFLICT (rule_id, version) DO NOTHING;

-- What each proceeding's dates were last computed from (a hash of its inputs, the
-- reference data and the rules in force): the daily run recomputes only what changed
-- and refreshes the other rows' open/lapsed status set-based.
CREATE TABLE IF NOT EXISTS limitation_inputs (
  proceeding_id uuid PRIMARY KEY REFERENCES proceedings (id) ON DELETE CASCADE,
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  inputs_hash text NOT NULL
);
CREATE INDEX IF NOT EXISTS hearings_case_idx ON hearings (case_id);
