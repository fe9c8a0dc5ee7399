-- The rules engine and sla-check at their floor (issue 11). Indexes only: a database
-- that gives only the contract's columns works unchanged.

-- The engine pages through the pending events of the run's practices in id order,
-- each page starting after the last id of the one before (keyset): an index on id
-- alone, so a page is an ordered range scan whatever the number of practices.
CREATE INDEX IF NOT EXISTS automation_events_pending_id_idx
  ON automation_events (id) WHERE processed_at IS NULL;

-- sla-check: one partial index per statement's predicate, so a 15-minute tick reads
-- its candidates only, not every open task (issue 11 item 2).
-- FLAG_OVERDUE: open tasks not flagged yet, by due date (a range up to the threshold).
CREATE INDEX IF NOT EXISTS tasks_unflagged_due_idx
  ON tasks (due_date) WHERE NOT is_overdue AND status NOT IN ('Completed', 'Cancelled');
-- FLAG_SLA: tasks no one has started, with no due date, not flagged yet, by creation.
CREATE INDEX IF NOT EXISTS tasks_unstarted_created_idx
  ON tasks (created_at)
  WHERE NOT sla_breached AND status = 'Pending' AND started_at IS NULL AND due_date IS NULL;
-- CLEAR_FLAGS, its four candidate sets: flagged tasks completed or cancelled since;
CREATE INDEX IF NOT EXISTS tasks_flagged_done_idx
  ON tasks (tenant_id)
  WHERE (is_overdue OR sla_breached) AND status IN ('Completed', 'Cancelled');
-- overdue tasks re-dated to later (or to none): a range above the threshold;
CREATE INDEX IF NOT EXISTS tasks_overdue_due_idx ON tasks (due_date) WHERE is_overdue;
-- SLA breaches (few: only tasks with no due date can breach);
CREATE INDEX IF NOT EXISTS tasks_breached_idx ON tasks (tenant_id) WHERE sla_breached;
-- flagged tasks of closed matters.
CREATE INDEX IF NOT EXISTS tasks_flagged_case_idx
  ON tasks (case_id) WHERE is_overdue OR sla_breached;
CREATE INDEX IF NOT EXISTS cases_closed_idx ON cases (tenant_id, id) WHERE status = 'Closed';
