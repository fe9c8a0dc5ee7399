-- Delivery as a job of its own (README, Notifications).

-- How urgent a message is, set by whoever queues it: 2 goes even in quiet hours (a
-- hearing today, a deadline within 24 hours), 1 goes first but waits out quiet hours
-- (a hearing tomorrow), 0 is routine (rule notifications, health alerts). Claims take
-- the most urgent first, then the oldest.
ALTER TABLE notifications ADD COLUMN IF NOT EXISTS urgency smallint NOT NULL DEFAULT 0;
-- The claim a sender holds on a row while sending it; outcomes are recorded only by
-- the holder. NULL when nobody is sending the row.
ALTER TABLE notifications ADD COLUMN IF NOT EXISTS claim_token uuid;

-- Claims walk a practice's pending rows most urgent first, then oldest.
CREATE INDEX IF NOT EXISTS notifications_claim_idx
  ON notifications (tenant_id, urgency DESC, id) WHERE status = 'pending';
-- 003's index served the old oldest-due-first claim; nothing reads it now.
DROP INDEX IF EXISTS notifications_tenant_due_idx;

-- Quiet hours per practice, in its timezone; NULL: GSTJOBS_QUIET_HOURS. Equal start
-- and end: never quiet.
ALTER TABLE tenants ADD COLUMN IF NOT EXISTS quiet_hours_start time;
ALTER TABLE tenants ADD COLUMN IF NOT EXISTS quiet_hours_end time;

-- What delivery last learnt of each channel: ok, down (unusable: a refused
-- connection, a rejected login or token) or paused until a moment (rate limited).
CREATE TABLE IF NOT EXISTS delivery_channels (
  channel text PRIMARY KEY,
  state text NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'down', 'paused')),
  paused_until timestamptz,
  reason text,
  since timestamptz NOT NULL DEFAULT now(),
  checked_at timestamptz NOT NULL DEFAULT now(),
  run_id bigint
);
