-- Operations: a ledger of every expected run, pause and resume, shards, and the daily
-- roll-ups that keep `status` and `health-report` truthful after old runs are pruned.

-- ---------------------------------------------------------------- shards
-- A run of one shard of the practices (--shard K/N) has its own lock and its own rows.
ALTER TABLE job_runs ADD COLUMN IF NOT EXISTS shard text NOT NULL DEFAULT '';

-- ---------------------------------------------------------------- expected runs
-- One row per scheduled slot of a job (and shard) that gstjobs has seen: which run
-- served it, or that none did. `missed` rows are written by the next scheduled run or
-- `run-due` of that job; until then readers count the gap themselves.
CREATE TABLE IF NOT EXISTS job_slots (
  job_name text NOT NULL,
  shard text NOT NULL DEFAULT '',
  scheduled_at timestamptz NOT NULL,
  state text NOT NULL CHECK (state IN ('ran', 'late', 'skipped', 'missed', 'caught_up', 'paused')),
  run_id bigint,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (job_name, shard, scheduled_at)
);
CREATE INDEX IF NOT EXISTS job_slots_recent_idx ON job_slots (scheduled_at DESC);

-- ---------------------------------------------------------------- pause and resume
CREATE TABLE IF NOT EXISTS job_pauses (
  job_name text PRIMARY KEY,
  paused_at timestamptz NOT NULL DEFAULT now(),
  reason text NOT NULL DEFAULT '',
  paused_by text NOT NULL DEFAULT ''
);

-- ---------------------------------------------------------------- daily roll-ups
-- What `gstjobs prune` summarises before it deletes old runs: per job, shard and local
-- day, so the 7-day figures and the success rates stay true.
CREATE TABLE IF NOT EXISTS job_run_rollups (
  day date NOT NULL,
  job_name text NOT NULL,
  shard text NOT NULL DEFAULT '',
  runs integer NOT NULL,
  succeeded integer NOT NULL,
  failed integer NOT NULL,
  skipped integer NOT NULL,
  duration_ms_total bigint NOT NULL,
  duration_ms_max integer NOT NULL,
  PRIMARY KEY (day, job_name, shard)
);

-- What the pruned runs counted (their numeric results), summed per job and day.
CREATE TABLE IF NOT EXISTS job_run_rollup_items (
  day date NOT NULL,
  job_name text NOT NULL,
  shard text NOT NULL DEFAULT '',
  key text NOT NULL,
  total numeric NOT NULL,
  PRIMARY KEY (day, job_name, shard, key)
);

-- Per practice and day, what the pruned detail rows held: events emitted, rule
-- executions (and failures), notifications sent (and given up).
CREATE TABLE IF NOT EXISTS practice_rollups (
  day date NOT NULL,
  tenant_id uuid NOT NULL,
  events integer NOT NULL DEFAULT 0,
  rule_executions integer NOT NULL DEFAULT 0,
  rule_failures integer NOT NULL DEFAULT 0,
  notifications_sent integer NOT NULL DEFAULT 0,
  notifications_failed integer NOT NULL DEFAULT 0,
  PRIMARY KEY (day, tenant_id)
);
