-- Existing databases whose rows hold values outside the contract's (a task priority
-- 'Urgent', a case status 'On Hold'): 004 and 009 added the status, priority, role and
-- event-type checks NOT VALID so the upgrade could not fail on old rows, but PostgreSQL
-- checks a NOT VALID constraint on every UPDATE of a row, old ones included. So one
-- legacy row made every update of it fail: the litigation system's own (closing the
-- task) and sla-check's (flagging it overdue failed the whole practice's run). Here each
-- such check is validated where the rows allow, and dropped where they do not (with a
-- NOTICE naming it): gstjobs then reads those values as it finds them.
DO $$
DECLARE
  c record;
BEGIN
  FOR c IN
    SELECT k.conrelid::regclass AS tbl, k.conname
    FROM pg_constraint k
    WHERE k.contype = 'c' AND NOT k.convalidated
      AND k.conname IN ('tasks_status_check', 'tasks_priority_check', 'hearings_status_check',
                        'cases_status_check', 'users_role_check',
                        'automation_rules_trigger_event_check',
                        'automation_events_event_type_check')
  LOOP
    BEGIN
      EXECUTE format('ALTER TABLE %s VALIDATE CONSTRAINT %I', c.tbl, c.conname);
    EXCEPTION WHEN check_violation THEN
      EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', c.tbl, c.conname);
      RAISE NOTICE 'gstjobs: % holds rows outside %: the check is dropped, not enforced',
        c.tbl, c.conname;
    END;
  END LOOP;
END
$$;
