"""What a run decided, per table, as a row count and a content hash.

Each table is read as one line per row of what a run decides (no surrogate ids, run ids
or clocks of its own; a rule notification's key names its event by the event's key,
not its sequence number; a task a rule creates has an id derived from its execution),
and the fingerprint is the md5 of the sorted lines and their count. Two databases
that started equal and took the same writes have equal fingerprints: that is how the
bench shows a floor script and a job wrote identical content.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

ROWS = {
    "tasks": """
        SELECT concat_ws('|', t.tenant_id, coalesce(t.case_id::text, '-'), t.title,
                         t.due_date, t.priority, t.status, t.assigned_to, t.created_at,
                         t.is_overdue, t.overdue_since, t.sla_breached, t.sla_breached_at)
        FROM tasks t
    """,
    "automation_events": """
        SELECT concat_ws('|', tenant_id, event_type, entity_type, entity_id, dedup_key,
                         payload, occurred_at, processed_at)
        FROM automation_events
    """,
    "automation_logs": """
        SELECT concat_ws('|', l.tenant_id, l.rule_id, l.rule_name, l.trigger_event,
                         e.dedup_key, l.status, l.error_message, l.executed_at,
                         l.actions_executed)
        FROM automation_logs l LEFT JOIN automation_events e ON e.id = l.event_id
    """,
    "notifications": """
        SELECT concat_ws('|', n.tenant_id, n.user_id, n.channel, n.template,
                         coalesce(replace(n.dedup_key, ':event:' || e.id || ':',
                                          ':event:' || e.dedup_key || ':'), n.dedup_key),
                         n.payload)
        FROM notifications n
        LEFT JOIN automation_events e
               ON e.id = CAST(substring(n.dedup_key FROM ':event:([0-9]+):') AS bigint)
    """,
    "audit_log (per task)": """
        SELECT concat_ws('|', tenant_id, action_type, entity_type, entity_id, details - 'run_id')
        FROM audit_log WHERE action_type <> 'background_job_execution'
    """,
    "analytics_snapshots": """
        SELECT concat_ws('|', tenant_id, snapshot_date, metric_type, metric_value - 'as_of')
        FROM analytics_snapshots
    """,
}


def take(conn: Connection) -> dict[str, tuple[int, str]]:
    """Per table: (rows, md5 of the sorted lines)."""
    out = {}
    for name, rows in ROWS.items():
        row = conn.execute(
            text(f"SELECT count(*), md5(string_agg(x, E'\\n' ORDER BY x)) FROM ({rows}) s (x)")
        ).one()
        out[name] = (int(row[0]), row[1] or "-")
    return out


def differences(a: dict[str, tuple[int, str]], b: dict[str, tuple[int, str]]) -> list[str]:
    """The tables whose content differs, each with both row counts."""
    return [f"{name} ({a[name][0]:,} vs {b[name][0]:,} rows)" for name in a if a[name] != b[name]]
