-- An existing litigation database may hold the domain tables with only the columns
-- CONTRACT §3 names. 001 creates tables only when absent, so here every further
-- column the jobs read is added where missing, each with a default, and the status
-- and priority constraints are added for new rows (NOT VALID: rows already there are
-- not re-checked, so the upgrade cannot fail on old data).

ALTER TABLE tenants ADD COLUMN IF NOT EXISTS timezone text NOT NULL DEFAULT 'Asia/Kolkata';
ALTER TABLE tenants ADD COLUMN IF NOT EXISTS created_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE users ADD COLUMN IF NOT EXISTS created_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE users ADD COLUMN IF NOT EXISTS whatsapp_opt_in boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN IF NOT EXISTS is_active boolean NOT NULL DEFAULT true;
ALTER TABLE courts ADD COLUMN IF NOT EXISTS city text NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN IF NOT EXISTS client_id uuid;
ALTER TABLE cases ADD COLUMN IF NOT EXISTS notice_type text;
-- Existing cases get the moment of the upgrade as created_at: the analytics backfill
-- cannot see earlier than that for them (README, "What a backfill can and cannot
-- reconstruct").
ALTER TABLE cases ADD COLUMN IF NOT EXISTS created_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE cases ADD COLUMN IF NOT EXISTS closed_at timestamptz;
ALTER TABLE hearings ADD COLUMN IF NOT EXISTS purpose text;
ALTER TABLE hearings ADD COLUMN IF NOT EXISTS created_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS created_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS completed_at timestamptz;
ALTER TABLE documents ADD COLUMN IF NOT EXISTS file_name text NOT NULL DEFAULT '';
ALTER TABLE documents ADD COLUMN IF NOT EXISTS uploaded_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE automation_rules ADD COLUMN IF NOT EXISTS conditions jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE automation_rules ADD COLUMN IF NOT EXISTS actions jsonb NOT NULL DEFAULT '[]'::jsonb;
ALTER TABLE automation_rules ADD COLUMN IF NOT EXISTS is_active boolean NOT NULL DEFAULT true;
ALTER TABLE automation_rules ADD COLUMN IF NOT EXISTS created_at timestamptz NOT NULL DEFAULT now();

DO $$
DECLARE
  c record;
BEGIN
  FOR c IN
    SELECT * FROM (VALUES
      ('tasks', 'tasks_status_check',
       'CHECK (status IN (''Pending'', ''In Progress'', ''Completed'', ''Cancelled''))'),
      ('tasks', 'tasks_priority_check',
       'CHECK (priority IN (''Critical'', ''High'', ''Medium'', ''Low''))'),
      ('hearings', 'hearings_status_check',
       'CHECK (status IN (''Scheduled'', ''Attended'', ''Adjourned'', ''Missed'', ''Cancelled''))'),
      ('cases', 'cases_status_check', 'CHECK (status IN (''Active'', ''Closed''))'),
      ('users', 'users_role_check', 'CHECK (role IN (''admin'', ''advocate'', ''staff''))'),
      ('automation_rules', 'automation_rules_trigger_event_check',
       'CHECK (trigger_event IN (''task_overdue'', ''sla_violation'', ''deadline_approaching''))')
    ) AS v (tbl, name, def)
  LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                   WHERE conname = c.name AND conrelid = c.tbl::regclass) THEN
      EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I %s NOT VALID', c.tbl, c.name, c.def);
    END IF;
  END LOOP;
END
$$;
