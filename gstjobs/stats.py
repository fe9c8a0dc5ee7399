"""Planner statistics kept right by the run that made them stale.

After a run changes a large share of a table (the first sla-check on a big backlog
flags half the open tasks), the planner's row estimates for that table are wrong until
autovacuum's next ANALYZE, which may be late or off; the next 15-minute tick then picks
plans for the old data (issue 11: 27 s instead of 0.4 s). So the run analyses such a
table itself, inside its own transaction (ANALYZE there sees the run's own writes and
its statistics commit with them). It is cheap (a sample of 30,000 rows) and skipped
for small changes. A role that does not own the table gets a warning from the server,
not an error; a table another session is analysing or vacuuming is left to it rather
than waited for.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

SHARE = 0.1
"""Analyse when the run changed at least this share of the table's rows..."""
MINIMUM = 10_000
"""... and at least this many (small tables are cheap to plan however stale)."""

ESTIMATE = text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:table)")
NEVER_ANALYZED = text(
    """
    SELECT t.name
    FROM unnest(CAST(:tables AS text[])) AS t (name)
    JOIN pg_class c ON c.oid = to_regclass(t.name)
    WHERE c.reltuples < 0
    ORDER BY t.name
    """
)
LOCK_TIMEOUT = text("SELECT set_config('lock_timeout', :value, true)")
SHOW_LOCK_TIMEOUT = text("SELECT current_setting('lock_timeout')")
ANALYZE = {
    name: text(f"ANALYZE {name}")  # a fixed table name from the list below, never a value
    for name in (
        "tasks",
        "cases",
        "hearings",
        "users",
        "automation_events",
        "automation_logs",
        "notifications",
        "audit_log",
    )
}


def analyze_if_never(conn: Connection, tables: Sequence[str]) -> list[str]:
    """ANALYZE each of ``tables`` that has no statistics at all (never analysed nor
    vacuumed: a bulk load on a server whose autovacuum is off or behind); without them
    the planner guesses, and a join over a million rows can take minutes instead of
    seconds. A table analysed once, however long ago, is left alone."""
    missing = [r.name for r in conn.execute(NEVER_ANALYZED, {"tables": list(tables)})]
    return [name for name in missing if _analyze(conn, name)]


def analyze_if_changed(conn: Connection, changed: Mapping[str, int]) -> list[str]:
    """ANALYZE each table whose ``changed`` row count is a large share of it; the names
    analysed, in a fixed order (two runs never wait on each other in a cycle)."""
    done = []
    for table in sorted(changed):
        rows = changed[table]
        if rows < MINIMUM:
            continue
        estimate = conn.execute(ESTIMATE, {"table": table}).scalar_one_or_none()
        if estimate is not None and estimate > 0 and rows < SHARE * estimate:
            continue
        if _analyze(conn, table):
            done.append(table)
    return done


def _analyze(conn: Connection, table: str) -> bool:
    before = conn.execute(SHOW_LOCK_TIMEOUT).scalar_one()
    try:
        with conn.begin_nested():
            conn.execute(LOCK_TIMEOUT, {"value": "2s"})
            conn.execute(ANALYZE[table])
    except DBAPIError as exc:
        log.info("ANALYZE %s skipped: %s", table, type(exc.orig).__name__)
        return False
    finally:
        conn.execute(LOCK_TIMEOUT, {"value": before})
    return True
