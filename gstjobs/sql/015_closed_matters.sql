-- Tasks of closed matters out of sla-check's way (issue 11 item 2).
--
-- sla-check leaves a closed matter's tasks alone (issue 12). Until now it learnt which
-- those were by asking `cases` on every tick: every open past-due task of a closed
-- matter stayed a candidate of the unflagged tasks' index and was re-read each time,
-- and every closed case was probed for flags to clear. Closed matters only accumulate
-- (a practice closes thousands a year), so a tick grew with the practice's history, not
-- with what changed. `tasks.case_closed` carries the fact on the task itself, kept by
-- the database in the same transaction as the change (the triggers below), so the
-- partial indexes can leave those tasks out and the flags of a newly closed matter are
-- found through a small index of their own.
--
-- Kept true to `cases` whoever writes: closing or reopening a case sets it on the
-- case's tasks; a task inserted, or moved to another case or practice, reads it from
-- its case; a value written by hand is replaced by the true one. Only an ALTER TABLE …
-- DISABLE TRIGGER or session_replication_role = replica bypasses it (a data-only
-- restore with --disable-triggers restores the column's values with the rows).

ALTER TABLE tasks ADD COLUMN IF NOT EXISTS case_closed boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN tasks.case_closed IS
  'True while the task''s case is Closed; kept by gstjobs triggers (migration 015), never written by hand.';

CREATE OR REPLACE FUNCTION gstjobs_task_case_closed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.case_closed := NEW.case_id IS NOT NULL AND EXISTS (
    SELECT 1 FROM cases c
    WHERE c.id = NEW.case_id AND c.tenant_id = NEW.tenant_id AND c.status = 'Closed');
  RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION gstjobs_case_closed_tasks() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- Each task's own trigger (UPDATE OF case_closed) reads the case, whose new state
  -- it sees, and sets the value.
  UPDATE tasks t SET case_closed = t.case_closed WHERE t.case_id = NEW.id;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS gstjobs_task_case_closed ON tasks;
CREATE TRIGGER gstjobs_task_case_closed
  BEFORE INSERT OR UPDATE OF case_id, tenant_id, case_closed ON tasks
  FOR EACH ROW EXECUTE FUNCTION gstjobs_task_case_closed();

DROP TRIGGER IF EXISTS gstjobs_case_closed_tasks ON cases;
CREATE TRIGGER gstjobs_case_closed_tasks
  AFTER UPDATE OF status, tenant_id ON cases
  FOR EACH ROW
  WHEN ((OLD.status IS NOT DISTINCT FROM 'Closed') IS DISTINCT FROM
        (NEW.status IS NOT DISTINCT FROM 'Closed')
        OR OLD.tenant_id IS DISTINCT FROM NEW.tenant_id)
  EXECUTE FUNCTION gstjobs_case_closed_tasks();

-- The tasks of matters already closed (each row's trigger confirms the value).
UPDATE tasks t SET case_closed = true
FROM cases c
WHERE c.id = t.case_id AND c.tenant_id = t.tenant_id AND c.status = 'Closed'
  AND NOT t.case_closed;

-- sla-check's candidate indexes, now without closed matters' tasks.
DROP INDEX IF EXISTS tasks_unflagged_due_idx;
CREATE INDEX IF NOT EXISTS tasks_unflagged_live_due_idx
  ON tasks (due_date)
  WHERE NOT is_overdue AND NOT case_closed AND status NOT IN ('Completed', 'Cancelled');
DROP INDEX IF EXISTS tasks_unstarted_created_idx;
CREATE INDEX IF NOT EXISTS tasks_unstarted_live_created_idx
  ON tasks (created_at)
  WHERE NOT sla_breached AND NOT case_closed AND status = 'Pending' AND started_at IS NULL
    AND due_date IS NULL;
-- Flags of a matter closed since they were set: empty but for the moment after a close.
DROP INDEX IF EXISTS tasks_flagged_case_idx;
CREATE INDEX IF NOT EXISTS tasks_flagged_closed_idx
  ON tasks (tenant_id) WHERE (is_overdue OR sla_breached) AND case_closed;
