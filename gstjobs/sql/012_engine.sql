-- The rules engine and sla-check at their floor (issue 11). Indexes only: a database
-- that gives only the contract's columns works unchanged.

-- The engine pages through the pending events of the run's practices in id order,
-- each page starting after the last id of the one before (keyset): an index on id
-- alone, so a page is an ordered range scan whatever the number of practices.
CREATE INDEX IF NOT EXISTS automation_events_pending_id_idx
  ON automation_events (id) WHERE processed_at IS NULL;
