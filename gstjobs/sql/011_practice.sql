-- What an advocate needs on a hearing reminder and what a believable practice records
-- (issue 12). Every column has a default or is nullable, so a database that gives only
-- the contract's columns keeps working: the reminder leaves out what it cannot say.

-- The forum: its address, the state it sits in (a GST state code such as '27') and its
-- level, so a checklist can be chosen by forum and the demo can agree with the matter.
ALTER TABLE courts ADD COLUMN IF NOT EXISTS address text NOT NULL DEFAULT '';
ALTER TABLE courts ADD COLUMN IF NOT EXISTS state_code char(2);
ALTER TABLE courts ADD COLUMN IF NOT EXISTS forum text;
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'courts_forum_check') THEN
    ALTER TABLE courts ADD CONSTRAINT courts_forum_check CHECK (forum IS NULL OR forum IN (
      'adjudicating_authority', 'appellate_authority', 'gstat', 'high_court', 'supreme_court'));
  END IF;
END $$;

-- Who appears at the hearing (NULL: the case's assigned advocate), and which notice,
-- order or appeal it is heard on (NULL: the case's latest open proceeding, if any).
ALTER TABLE hearings ADD COLUMN IF NOT EXISTS representative_id uuid REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE hearings ADD COLUMN IF NOT EXISTS proceeding_id uuid REFERENCES proceedings (id) ON DELETE SET NULL;
CREATE INDEX IF NOT EXISTS hearings_proceeding_idx ON hearings (proceeding_id) WHERE proceeding_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS hearings_case_idx ON hearings (case_id);

-- A client's PAN entity type follows from its GSTIN (4th letter of the PAN); the demo
-- keeps names consistent with it. Nothing to store.

-- Tasks: first action. An SLA (time to first action) is judged on tasks still Pending;
-- started_at records when a task left Pending (set by the litigation system; gstjobs
-- reads it when present and otherwise treats any non-Pending status as started).
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS started_at timestamptz;
CREATE INDEX IF NOT EXISTS tasks_case_idx ON tasks (case_id) WHERE case_id IS NOT NULL;
