#!/bin/bash
# sla-check's +15-minute tick with a long history of closed matters, two checkouts side by
# side (e.g. main before and after a change to sla-check; the same checkout twice for one).
set -e
# usage: bench/closed_history.sh OLD_CHECKOUT NEW_CHECKOUT (each with its .venv)
# Needs the L demo, settled, in database gstjobs_l_base on the local server:
#   createdb gstjobs_l_base; DATABASE_URL=.../gstjobs_l_base gstjobs demo --tenants 1000 \
#     --tasks-per-tenant 1000 (anchor below: set A to the demo's "anchor"); VACUUM ANALYZE
# Prints the run's duration_ms, newly overdue, overdue and flags cleared for a first run
# and three +15-minute ticks on each side.
OLD=${1:?old checkout}; NEW=${2:?new checkout}
A=${ANCHOR:-2026-11-29T15:38:26Z}; T=$(date -u -d "$A + 15 min" +%Y-%m-%dT%H:%M:%SZ)
P="psql -h 127.0.0.1 -U postgres -X -q"
for d in gstjobs_cl_old gstjobs_cl_new; do
  $P -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" -c "CREATE DATABASE $d TEMPLATE gstjobs_l_base"
  # History: 100,000 more matters closed; 95% of their open tasks completed, 5% left open.
  $P -d $d -c "
    WITH closing AS (SELECT id FROM cases WHERE status = 'Active' ORDER BY id LIMIT 100000),
    closed AS (UPDATE cases c SET status = 'Closed', closed_at = timestamptz '$A' - interval '30 days'
               FROM closing x WHERE c.id = x.id RETURNING c.id)
    UPDATE tasks t SET status = 'Completed', completed_at = timestamptz '$A' - interval '31 days'
    FROM closed c WHERE t.case_id = c.id AND t.status NOT IN ('Completed','Cancelled')
      AND hashtext(t.id::text) % 20 <> 0" -c "VACUUM ANALYZE"
done
$P -d gstjobs_cl_old -At -c "select count(*) filter (where c.status='Closed'), (select count(*) from tasks t join cases k on k.id=t.case_id where k.status='Closed' and t.status not in ('Completed','Cancelled')) from cases c"
run() { # dir db moment
  (cd $1 && env -u GSTJOBS_TEST_DATABASE_URL DATABASE_URL=postgresql://postgres@127.0.0.1:5432/$2 NO_COLOR=1 GSTJOBS_OUTBOX_DIR=/tmp/outbox \
   .venv/bin/gstjobs run sla-check --as-of $3 --trigger manual --force --json | python3 -c "import json,sys,subprocess; d=json.load(sys.stdin); r=d['results']; ms=subprocess.run(['psql','-h','127.0.0.1','-U','postgres','-d','$2','-Atc','select duration_ms from job_runs where id=%d' % d['runId']],capture_output=True,text=True).stdout.strip(); print('$2 $3', ms, 'ms', r['newlyOverdue'], r['overdueTasks'], r['flagsCleared'])")
}
(cd $OLD && env -u GSTJOBS_TEST_DATABASE_URL DATABASE_URL=postgresql://postgres@127.0.0.1:5432/gstjobs_cl_old .venv/bin/gstjobs db upgrade)
(cd $NEW && env -u GSTJOBS_TEST_DATABASE_URL DATABASE_URL=postgresql://postgres@127.0.0.1:5432/gstjobs_cl_new .venv/bin/gstjobs db upgrade)
run $OLD gstjobs_cl_old $A; run $NEW gstjobs_cl_new $A
for i in 1 2 3; do run $OLD gstjobs_cl_old $T; run $NEW gstjobs_cl_new $T; done
for d in gstjobs_cl_old gstjobs_cl_new; do $P -c "DROP DATABASE IF EXISTS $d WITH (FORCE)"; done
