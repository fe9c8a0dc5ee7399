-- Input that cannot hurt, and a ledger that shows what limits a run had.

-- ---------------------------------------------------------------- the run ledger
-- The deadline a run was given (seconds), and for a skipped run the run that held the
-- job's lock: the health report tells a lock held past the schedule interval from a
-- harmless overlap.
ALTER TABLE job_runs ADD COLUMN IF NOT EXISTS deadline_s integer;
ALTER TABLE job_runs ADD COLUMN IF NOT EXISTS blocked_by bigint;
-- A run told to act as of another moment than the database clock (--as-of … --force):
-- it changed live data as if it were then, and history says so.
ALTER TABLE job_runs ADD COLUMN IF NOT EXISTS as_of_forced boolean NOT NULL DEFAULT false;
CREATE INDEX IF NOT EXISTS job_runs_skipped_idx ON job_runs (started_at) WHERE status = 'skipped';

-- ---------------------------------------------------------------- practice time zones
-- PostgreSQL reads 'IST' as Israel Standard Time and '+05:30' as UTC-05:30 (POSIX sign),
-- while Python refuses both: a practice with such a zone would have its SQL jobs run in
-- the wrong zone and its messages fail. Only IANA names (Area/Location, or UTC) that
-- PostgreSQL knows are accepted; gstjobs checks the same in Python when it loads
-- practices, so a row written before this migration fails alone, named, and is never
-- run in a wrong zone.
CREATE OR REPLACE FUNCTION gstjobs_timezone_ok(tz text)
RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT tz IS NOT NULL
     AND length(tz) <= 64
     AND tz ~ '^([A-Za-z][A-Za-z_+-]*(/[A-Za-z0-9][A-Za-z0-9_+-]*){1,2}|UTC)$'
     AND EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = tz)
$$;

CREATE OR REPLACE FUNCTION gstjobs_check_tenant_timezone()
RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NOT gstjobs_timezone_ok(NEW.timezone) THEN
    RAISE EXCEPTION 'tenants.timezone % is not an IANA time zone name; use e.g. Asia/Kolkata',
      quote_literal(NEW.timezone)
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS gstjobs_tenant_timezone ON tenants;
CREATE TRIGGER gstjobs_tenant_timezone
  BEFORE INSERT OR UPDATE OF timezone ON tenants
  FOR EACH ROW EXECUTE FUNCTION gstjobs_check_tenant_timezone();

-- ---------------------------------------------------------------- automation rules
-- A rule's conditions and actions are decoded in Python; JSON nested thousands deep, or
-- an integer of thousands of digits, is valid jsonb that Python's decoder refuses. So a
-- rule may be at most 64 KiB, nested at most 32 deep, with numbers under 10^15 in size.
-- The loader refuses the same again for rows written before this migration.
CREATE OR REPLACE FUNCTION gstjobs_rule_json_problem(value jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE
    WHEN value IS NULL THEN NULL
    WHEN octet_length(value::text) > 65536 THEN 'is larger than 64 KiB'
    WHEN jsonb_path_exists(value, 'strict $.**{33}') THEN 'is nested deeper than 32 levels'
    WHEN jsonb_path_exists(value, 'strict $.** ? (@.type() == "number" && (@ >= 1e15 || @ <= -1e15))')
      THEN 'holds a number of 10^15 or more'
  END
$$;

CREATE OR REPLACE FUNCTION gstjobs_check_rule_size()
RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  problem text;
BEGIN
  problem := gstjobs_rule_json_problem(NEW.conditions);
  IF problem IS NOT NULL THEN
    RAISE EXCEPTION 'automation rule conditions %', problem USING ERRCODE = 'check_violation';
  END IF;
  problem := gstjobs_rule_json_problem(NEW.actions);
  IF problem IS NOT NULL THEN
    RAISE EXCEPTION 'automation rule actions %', problem USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS gstjobs_rule_size ON automation_rules;
CREATE TRIGGER gstjobs_rule_size
  BEFORE INSERT OR UPDATE OF conditions, actions ON automation_rules
  FOR EACH ROW EXECUTE FUNCTION gstjobs_check_rule_size();

-- ---------------------------------------------------------------- the demo's own practices
-- `gstjobs demo` records the practices it creates, so that it can refuse a database that
-- holds anyone else's and `demo --reset` removes every demo practice, whatever seed or
-- size made it.
CREATE TABLE IF NOT EXISTS gstjobs_demo_tenants (
  tenant_id uuid PRIMARY KEY,
  seed integer NOT NULL,
  loaded_at timestamptz NOT NULL DEFAULT now()
);
