"""The original specification's sla-check, row at a time, for the ratio in `make bench`.

The seed's TypeScript read the open tasks, then for each task ran one query (its
policy and flags) and one update (its flags), and inserted its event and audit row:
a round trip or more per task. This does the same flagging (with the same rules as
gstjobs: time to first action, closed matters left alone) through psycopg, one task at
a time, all in one transaction, and runs no rules. Its time against the job's whole
first run (rules included) is a conservative ratio.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import psycopg

OPEN_TASKS = """
    SELECT t.id FROM tasks t
    WHERE t.status NOT IN ('Completed', 'Cancelled') AND NOT (t.is_overdue OR t.sla_breached)
"""
ONE_TASK = """
    SELECT t.id, t.tenant_id, t.case_id, t.priority, t.status, t.started_at, t.due_date,
           t.created_at, tn.timezone, coalesce(c.status = 'Closed', false) AS closed,
           coalesce(sp.resolution_hours,
                    CASE t.priority WHEN 'Critical' THEN 24 WHEN 'High' THEN 72
                                    WHEN 'Medium' THEN 168 ELSE 336 END) AS hours
    FROM tasks t JOIN tenants tn ON tn.id = t.tenant_id
    LEFT JOIN cases c ON c.id = t.case_id
    LEFT JOIN sla_policies sp ON sp.tenant_id = t.tenant_id AND sp.priority = t.priority
    WHERE t.id = %s
"""
FLAG_OVERDUE = "UPDATE tasks SET is_overdue = true, overdue_since = %s WHERE id = %s"
FLAG_SLA = "UPDATE tasks SET sla_breached = true, sla_breached_at = %s WHERE id = %s"
EVENT = """
    INSERT INTO automation_events (tenant_id, event_type, entity_type, entity_id, dedup_key,
                                   payload, occurred_at)
    VALUES (%s, %s, 'task', %s, %s, jsonb_build_object('task_id', %s::uuid), %s)
    ON CONFLICT DO NOTHING
"""
AUDIT = """
    INSERT INTO audit_log (tenant_id, action_type, entity_type, entity_id, details)
    VALUES (%s, %s, 'task', %s, '{}'::jsonb)
"""


def run(url: str, as_of: datetime, grace_minutes: int = 15) -> tuple[float, int]:
    """Seconds taken and tasks visited."""
    threshold = as_of - timedelta(minutes=grace_minutes)
    start = time.monotonic()
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        ids = [r[0] for r in cur.execute(OPEN_TASKS).fetchall()]
        for task_id in ids:
            t = cur.execute(ONE_TASK, (task_id,)).fetchone()
            assert t is not None
            (tid, tenant, _case, _prio, status, started, due, created, _tz, closed, hours) = t
            if closed:
                continue
            if due is not None and due < threshold:
                cur.execute(FLAG_OVERDUE, (as_of, tid))
                key = f"{tid}@{due.isoformat()}"
                cur.execute(EVENT, (tenant, "task_overdue", tid, key, tid, as_of))
                cur.execute(AUDIT, (tenant, "task_overdue", tid))
            elif (
                due is None
                and status == "Pending"
                and started is None
                and created + timedelta(hours=hours) < as_of
            ):
                cur.execute(FLAG_SLA, (as_of, tid))
                cur.execute(EVENT, (tenant, "sla_violation", tid, str(tid), tid, as_of))
                cur.execute(AUDIT, (tenant, "sla_violation", tid))
        conn.commit()
    return time.monotonic() - start, len(ids)
