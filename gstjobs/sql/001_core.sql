-- gstjobs core schema: the seed's three tables, the litigation domain tables
-- (created only when absent, so gstjobs can sit on an existing database), and the
-- tool's own run ledger, event queue and notification outbox.

-- gen_random_uuid() is built in from PostgreSQL 13; older servers need pgcrypto.
-- (Asking for pgcrypto unconditionally would fail where it is not packaged, as in the
-- embedded server.)
DO $$
BEGIN
  IF current_setting('server_version_num')::int < 130000 THEN
    CREATE EXTENSION IF NOT EXISTS pgcrypto;
  END IF;
END
$$;

-- ---------------------------------------------------------------- seed tables
CREATE TABLE IF NOT EXISTS audit_log (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id UUID NOT NULL,
  action_type VARCHAR NOT NULL,
  entity_type VARCHAR,
  entity_id UUID,
  user_id UUID,
  details JSONB,
  timestamp TIMESTAMPTZ DEFAULT NOW()
);
CREATE INDEX IF NOT EXISTS audit_log_action_time_idx ON audit_log (action_type, timestamp DESC);
CREATE INDEX IF NOT EXISTS audit_log_tenant_time_idx ON audit_log (tenant_id, timestamp DESC);

CREATE TABLE IF NOT EXISTS automation_logs (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id UUID NOT NULL,
  rule_id UUID,
  rule_name TEXT,
  trigger_event TEXT,
  status TEXT,
  actions_executed JSONB,
  error_message TEXT,
  executed_at TIMESTAMPTZ DEFAULT NOW()
);
CREATE INDEX IF NOT EXISTS automation_logs_time_idx ON automation_logs (executed_at);
CREATE INDEX IF NOT EXISTS automation_logs_rule_time_idx ON automation_logs (rule_id, executed_at);

CREATE TABLE IF NOT EXISTS analytics_snapshots (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id UUID NOT NULL,
  metric_type VARCHAR NOT NULL,
  snapshot_date DATE NOT NULL,
  metric_value JSONB NOT NULL,
  created_at TIMESTAMPTZ DEFAULT NOW()
);
CREATE UNIQUE INDEX IF NOT EXISTS analytics_snapshots_day_key
  ON analytics_snapshots (tenant_id, metric_type, snapshot_date);

-- ---------------------------------------------------------------- domain tables
CREATE TABLE IF NOT EXISTS tenants (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL,
  timezone text NOT NULL DEFAULT 'Asia/Kolkata',
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  full_name text NOT NULL,
  email text,
  phone text CHECK (phone IS NULL OR phone ~ '^\+[1-9][0-9]{6,14}$'),
  role text NOT NULL DEFAULT 'staff' CHECK (role IN ('admin', 'advocate', 'staff')),
  whatsapp_opt_in boolean NOT NULL DEFAULT false,
  is_active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS users_tenant_role_idx ON users (tenant_id, role);

CREATE TABLE IF NOT EXISTS courts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL,
  city text NOT NULL DEFAULT ''
);

CREATE TABLE IF NOT EXISTS clients (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  name text NOT NULL,
  gstin text CHECK (gstin IS NULL OR gstin ~ '^[0-9]{2}[A-Z]{5}[0-9]{4}[A-Z][1-9A-Z]Z[0-9A-Z]$'),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS cases (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  case_number text NOT NULL,
  title text NOT NULL,
  status text NOT NULL DEFAULT 'Active' CHECK (status IN ('Active', 'Closed')),
  owner_id uuid REFERENCES users (id) ON DELETE SET NULL,
  assigned_to uuid REFERENCES users (id) ON DELETE SET NULL,
  client_id uuid REFERENCES clients (id) ON DELETE SET NULL,
  notice_type text,
  created_at timestamptz NOT NULL DEFAULT now(),
  closed_at timestamptz
);
CREATE INDEX IF NOT EXISTS cases_tenant_status_idx ON cases (tenant_id, status);

CREATE TABLE IF NOT EXISTS hearings (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  case_id uuid NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
  court_id uuid REFERENCES courts (id),
  hearing_date timestamptz NOT NULL,
  status text NOT NULL DEFAULT 'Scheduled'
    CHECK (status IN ('Scheduled', 'Attended', 'Adjourned', 'Missed', 'Cancelled')),
  purpose text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS hearings_scheduled_date_idx
  ON hearings (tenant_id, hearing_date) WHERE status = 'Scheduled';
CREATE INDEX IF NOT EXISTS hearings_tenant_date_idx ON hearings (tenant_id, hearing_date);

CREATE TABLE IF NOT EXISTS tasks (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  case_id uuid REFERENCES cases (id) ON DELETE CASCADE,
  title text NOT NULL,
  priority text NOT NULL DEFAULT 'Medium' CHECK (priority IN ('Critical', 'High', 'Medium', 'Low')),
  status text NOT NULL DEFAULT 'Pending'
    CHECK (status IN ('Pending', 'In Progress', 'Completed', 'Cancelled')),
  assigned_to uuid REFERENCES users (id) ON DELETE SET NULL,
  due_date timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz
);
-- Flags the SLA check owns; added to an existing tasks table too.
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS is_overdue boolean NOT NULL DEFAULT false;
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS overdue_since timestamptz;
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS sla_breached boolean NOT NULL DEFAULT false;
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS sla_breached_at timestamptz;
CREATE INDEX IF NOT EXISTS tasks_open_due_idx
  ON tasks (tenant_id, due_date) WHERE status NOT IN ('Completed', 'Cancelled');
CREATE INDEX IF NOT EXISTS tasks_open_created_idx
  ON tasks (tenant_id, priority, created_at) WHERE status NOT IN ('Completed', 'Cancelled');
CREATE INDEX IF NOT EXISTS tasks_flagged_idx
  ON tasks (tenant_id) WHERE is_overdue OR sla_breached;

CREATE TABLE IF NOT EXISTS documents (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  case_id uuid REFERENCES cases (id) ON DELETE CASCADE,
  file_name text NOT NULL DEFAULT '',
  uploaded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS documents_tenant_time_idx ON documents (tenant_id, uploaded_at);

CREATE TABLE IF NOT EXISTS sla_policies (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  priority text NOT NULL CHECK (priority IN ('Critical', 'High', 'Medium', 'Low')),
  resolution_hours integer NOT NULL CHECK (resolution_hours > 0),
  PRIMARY KEY (tenant_id, priority)
);

CREATE TABLE IF NOT EXISTS automation_rules (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  name text NOT NULL,
  trigger_event text NOT NULL
    CHECK (trigger_event IN ('task_overdue', 'sla_violation', 'deadline_approaching')),
  conditions jsonb NOT NULL DEFAULT '{}'::jsonb,
  actions jsonb NOT NULL DEFAULT '[]'::jsonb,
  is_active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS automation_rules_trigger_idx
  ON automation_rules (tenant_id, trigger_event) WHERE is_active;

-- ---------------------------------------------------------------- gstjobs' own tables
-- The run ledger, in the spirit of pg_cron's cron.job_run_details.
CREATE TABLE IF NOT EXISTS job_runs (
  id bigserial PRIMARY KEY,
  job_name text NOT NULL,
  status text NOT NULL CHECK (status IN ('running', 'success', 'failed', 'skipped', 'abandoned')),
  trigger text NOT NULL DEFAULT 'manual' CHECK (trigger IN ('scheduled', 'manual')),
  host text NOT NULL,
  pid integer NOT NULL,
  backend_pid integer,
  backend_start timestamptz,
  started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  finished_at timestamptz,
  duration_ms integer,
  as_of timestamptz,
  dry_run boolean NOT NULL DEFAULT false,
  tenant_filter uuid[],
  results jsonb,
  error text,
  error_details text
);
CREATE INDEX IF NOT EXISTS job_runs_job_started_idx ON job_runs (job_name, started_at DESC);
CREATE INDEX IF NOT EXISTS job_runs_started_idx ON job_runs (started_at DESC);
CREATE INDEX IF NOT EXISTS job_runs_running_idx ON job_runs (id) WHERE status = 'running';

-- Events the jobs emit for the rules engine; the unique key makes emission idempotent.
CREATE TABLE IF NOT EXISTS automation_events (
  id bigserial PRIMARY KEY,
  tenant_id uuid NOT NULL,
  event_type text NOT NULL
    CHECK (event_type IN ('task_overdue', 'sla_violation', 'deadline_approaching')),
  entity_type text NOT NULL,
  entity_id uuid NOT NULL,
  dedup_key text NOT NULL,
  payload jsonb NOT NULL,
  occurred_at timestamptz NOT NULL,
  run_id bigint,
  processed_at timestamptz,
  UNIQUE (tenant_id, event_type, dedup_key)
);
CREATE INDEX IF NOT EXISTS automation_events_pending_idx
  ON automation_events (tenant_id, id) WHERE processed_at IS NULL;

-- The notification outbox: every message is a row first; the unique key means a
-- re-run, an overlapping run or a crash never queues it twice.
CREATE TABLE IF NOT EXISTS notifications (
  id bigserial PRIMARY KEY,
  tenant_id uuid NOT NULL,
  user_id uuid NOT NULL,
  channel text NOT NULL CHECK (channel IN ('email', 'whatsapp', 'console')),
  template text NOT NULL,
  payload jsonb NOT NULL DEFAULT '{}'::jsonb,
  dedup_key text NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text,
  provider_message_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz,
  run_id bigint,
  UNIQUE (tenant_id, channel, dedup_key)
);
CREATE INDEX IF NOT EXISTS notifications_due_idx
  ON notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS notifications_tenant_idx ON notifications (tenant_id, created_at);
