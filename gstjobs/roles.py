"""Least privilege: the GRANTs of a job role and of a read-only monitoring role.

``gstjobs db roles --print`` writes them for the tables this database has; the owner
of the schema runs them (and ``gstjobs db upgrade``, which only the owner can).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

JOB_WRITES = (
    "job_runs",
    "job_slots",
    "job_pauses",
    "job_run_rollups",
    "job_run_rollup_items",
    "practice_rollups",
    "audit_log",
    "automation_events",
    "automation_logs",
    "notifications",
    "delivery_channels",
    "analytics_snapshots",
    "limitation_dates",
    "limitation_inputs",
    "gstjobs_demo_tenants",
)
"""gstjobs' own tables: the jobs read and write them (and prune deletes from them)."""
JOB_UPDATES = ("tasks",)
"""Litigation tables the jobs change: flags on tasks, follow-up tasks rules create."""
MONITOR_READS = (
    "gstjobs_migrations",
    "job_runs",
    "job_slots",
    "job_pauses",
    "job_run_rollups",
    "job_run_rollup_items",
    "practice_rollups",
    "notifications",
    "delivery_channels",
    "automation_rules",
    "automation_logs",
    "tenants",
    "cases",
    "hearings",
    "proceedings",
    "annual_return_due_dates",
    "analytics_snapshots",
    "limitation_dates",
    "limitation_rules",
    "users",
    "tasks",
)
"""What status, history, health-report, metrics, doctor, analytics and limitation list
and missing read (health-report reads the matters too: hearings with no recorded outcome,
proceedings missing dates, values it does not know in hearings, tasks, cases and users;
limitation list names the matter and whom it concerns)."""

TABLES = text(
    """
    SELECT c.relname FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema()
    ORDER BY c.relname
    """
)
SEQUENCES = text(
    """
    SELECT c.relname FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'S' AND n.nspname = current_schema()
    ORDER BY c.relname
    """
)


def grants(conn: Connection, job_role: str, monitor_role: str) -> list[str]:
    """The statements, for the tables and sequences this database has."""
    tables = set(conn.execute(TABLES).scalars())
    sequences = list(conn.execute(SEQUENCES).scalars())
    database = conn.execute(text("SELECT current_database()")).scalar_one()
    schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    job, monitor = _ident(job_role), _ident(monitor_role)
    own = [t for t in JOB_WRITES if t in tables]
    updated = [t for t in JOB_UPDATES if t in tables]
    read = sorted(tables - set(own) - set(updated))
    out = [
        f"-- {job_role}: runs every job (cron, timers, run-due); not migrations",
        f"GRANT CONNECT, TEMPORARY ON DATABASE {_ident(database)} TO {job};",
        f"GRANT USAGE ON SCHEMA {_ident(schema)} TO {job};",
        *_grant("SELECT, INSERT, UPDATE, DELETE", own, job),
        *_grant("SELECT, INSERT, UPDATE", updated, job),
        *_grant("SELECT", read, job),
        *_grant_sequences(sequences, job),
        "",
        f"-- {monitor_role}: status, history, health-report, metrics, doctor (SELECT only)",
        f"GRANT CONNECT ON DATABASE {_ident(database)} TO {monitor};",
        f"GRANT USAGE ON SCHEMA {_ident(schema)} TO {monitor};",
        *_grant("SELECT", [t for t in MONITOR_READS if t in tables], monitor),
    ]
    return out


def _grant(privileges: str, tables: Sequence[str], role: str) -> list[str]:
    return [f"GRANT {privileges} ON {_ident(t)} TO {role};" for t in tables]


def _grant_sequences(sequences: Sequence[str], role: str) -> list[str]:
    return [f"GRANT USAGE, SELECT ON SEQUENCE {_ident(s)} TO {role};" for s in sequences]


def _ident(name: str) -> str:
    """An SQL identifier, quoted when it must be."""
    if name.isidentifier() and name == name.lower():
        return name
    return '"' + name.replace('"', '""') + '"'
