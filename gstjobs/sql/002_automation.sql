-- The rules engine: the condition matcher, and the tracing columns of automation_logs.
--
-- gstjobs validates every rule in Python before it runs (gstjobs/automation/rules.py);
-- these functions only evaluate what passed. They are PL/pgSQL, not inlined SQL, so
-- that a comparison of a string with a number can never be constant-folded into an
-- error: each branch runs only when its type check has passed.

-- One operator of the rule language against one event value (NULL: the field is
-- absent or JSON null). A missing value satisfies only `ne` and `not_in`.
CREATE OR REPLACE FUNCTION gstjobs_operator_holds(op text, arg jsonb, val jsonb)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  IF val = 'null'::jsonb THEN
    val := NULL;
  END IF;
  CASE op
    WHEN 'eq' THEN RETURN val IS NOT NULL AND val = arg;
    WHEN 'ne' THEN RETURN val IS NULL OR val <> arg;
    WHEN 'in' THEN
      RETURN val IS NOT NULL AND EXISTS (SELECT 1 FROM jsonb_array_elements(arg) e WHERE e = val);
    WHEN 'not_in' THEN
      RETURN val IS NULL OR NOT EXISTS (SELECT 1 FROM jsonb_array_elements(arg) e WHERE e = val);
    WHEN 'gt', 'gte', 'lt', 'lte' THEN
      IF val IS NULL OR jsonb_typeof(val) <> 'number' OR jsonb_typeof(arg) <> 'number' THEN
        RETURN false;
      END IF;
      RETURN CASE op
        WHEN 'gt' THEN val::numeric > arg::numeric
        WHEN 'gte' THEN val::numeric >= arg::numeric
        WHEN 'lt' THEN val::numeric < arg::numeric
        ELSE val::numeric <= arg::numeric
      END;
    ELSE
      RAISE EXCEPTION 'unknown rule operator %', op USING ERRCODE = 'invalid_parameter_value';
  END CASE;
END
$$;

-- A rule's conditions against an event's data: every field's test must hold; {} matches.
-- A scalar test means `eq`; an object test is a set of operators that must all hold.
CREATE OR REPLACE FUNCTION gstjobs_rule_matches(conditions jsonb, data jsonb)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  field record;
  test record;
BEGIN
  IF conditions IS NULL OR jsonb_typeof(conditions) <> 'object' THEN
    RAISE EXCEPTION 'rule conditions must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOR field IN SELECT key, value FROM jsonb_each(conditions) LOOP
    IF jsonb_typeof(field.value) = 'object' THEN
      FOR test IN SELECT key, value FROM jsonb_each(field.value) LOOP
        IF NOT gstjobs_operator_holds(test.key, test.value, data -> field.key) THEN
          RETURN false;
        END IF;
      END LOOP;
    ELSIF NOT gstjobs_operator_holds('eq', field.value, data -> field.key) THEN
      RETURN false;
    END IF;
  END LOOP;
  RETURN true;
END
$$;

-- Which event and run produced each execution; extra columns with defaults, so the
-- seed's automation_logs stays column for column what it declares.
ALTER TABLE automation_logs ADD COLUMN IF NOT EXISTS event_id bigint;
ALTER TABLE automation_logs ADD COLUMN IF NOT EXISTS run_id bigint;
-- Exactly once, enforced by the database as well as by the engine's row locks.
CREATE UNIQUE INDEX IF NOT EXISTS automation_logs_rule_event_key
  ON automation_logs (rule_id, event_id) WHERE event_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS automation_logs_tenant_time_idx
  ON automation_logs (tenant_id, executed_at);
-- The health report's stale-outbox check.
CREATE INDEX IF NOT EXISTS notifications_pending_created_idx
  ON notifications (created_at) WHERE status = 'pending';
