-- A practice's time zone is checked by asking PostgreSQL to use it, not by scanning
-- pg_timezone_names: that view reads every zone file on each call (60-80 ms), and it was
-- called once per practice on every run (about a minute per run at 1,000 practices) and
-- once per inserted practice. The regular expression still refuses what PostgreSQL would
-- read as an abbreviation or a POSIX offset ('IST' is Israel to it; '+05:30' is UTC-05:30).
CREATE OR REPLACE FUNCTION gstjobs_timezone_ok(tz text)
RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF tz IS NULL OR length(tz) > 64
     OR tz !~ '^([A-Za-z][A-Za-z_+-]*(/[A-Za-z0-9][A-Za-z0-9_+-]*){1,2}|UTC)$' THEN
    RETURN false;
  END IF;
  PERFORM now() AT TIME ZONE tz;
  RETURN true;
EXCEPTION WHEN invalid_parameter_value THEN
  RETURN false;
END
$$;
