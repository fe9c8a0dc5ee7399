"""Loading the demo: set-based, a chunk of practices at a time, with COPY.

The generator makes rows in memory for ``TENANTS_PER_CHUNK`` practices; each table's
rows go to PostgreSQL in one COPY, in dependency order, so memory stays flat however
many practices are asked for and no row costs a round trip.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from psycopg import Connection as PgConnection
from sqlalchemy import Connection, text

from gstjobs.core import SILENT, Progress
from gstjobs.demo.build import Row
from gstjobs.demo.calendar import Calendar, local_day, national_holidays
from gstjobs.demo.generator import COLUMNS, practice
from gstjobs.demo.ids import court_id, tenant_ids
from gstjobs.demo.vocabulary import FORUMS
from gstjobs.errors import UsageError

TENANTS_PER_CHUNK = 20


@dataclass(frozen=True)
class DemoSummary:
    tenants: int
    users: int
    clients: int
    cases: int
    hearings: int
    tasks: int
    documents: int
    rules: int
    anchor: datetime
    proceedings: int = 0
    proceeding_events: int = 0


TABLES = text(
    "SELECT to_regclass('tenants') IS NOT NULL, to_regclass('gstjobs_demo_tenants') IS NOT NULL"
)
FOREIGN_PRACTICES = text(
    """
    SELECT count(*) FROM tenants t
    WHERE NOT EXISTS (SELECT 1 FROM gstjobs_demo_tenants d WHERE d.tenant_id = t.id)
    """
)
DEMO_PRACTICES = text("SELECT tenant_id FROM gstjobs_demo_tenants ORDER BY tenant_id")
RECORD = text(
    "INSERT INTO gstjobs_demo_tenants (tenant_id, seed) SELECT unnest(CAST(:ids AS uuid[])), :seed"
)
UPSERT_FORUMS = text(
    """
    INSERT INTO courts (id, name, city, address, state_code, forum)
    SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:names AS text[]), CAST(:cities AS text[]),
                         CAST(:addresses AS text[]), CAST(:states AS text[]),
                         CAST(:forums AS text[]))
    ON CONFLICT (id) DO UPDATE
    SET name = EXCLUDED.name, city = EXCLUDED.city, address = EXCLUDED.address,
        state_code = EXCLUDED.state_code, forum = EXCLUDED.forum
    """
)
HOLIDAYS = text(
    "SELECT date, state_code FROM holidays WHERE date BETWEEN :first AND :last ORDER BY date"
)
# What the jobs write for a practice without a foreign key to it (the rest cascades).
_JOB_TABLES = (
    "audit_log",
    "automation_logs",
    "analytics_snapshots",
    "automation_events",
    "notifications",
    "practice_rollups",
)


def foreign_practices(conn: Connection) -> int:
    """Practices in this database that the demo did not create (read before migrating)."""
    has_tenants, has_marks = conn.execute(TABLES).one()
    if not has_tenants:
        return 0
    if not has_marks:
        return int(conn.execute(text("SELECT count(*) FROM tenants")).scalar_one())
    return int(conn.execute(FOREIGN_PRACTICES).scalar_one())


def calendar(conn: Connection, anchor: datetime) -> Calendar:
    """National holidays of the vocabulary plus the ``holidays`` table's rows."""
    today = local_day(anchor)
    first = date(max(today.year - 5, 1), 1, 1)
    last = date(min(today.year + 1, 9999), 12, 31)
    national = set(national_holidays(first.year, last.year))
    regional: set[tuple[str, date]] = set()
    for day, state in conn.execute(HOLIDAYS, {"first": first, "last": last}):
        if state is None:
            national.add(day)
        else:
            regional.add((state, day))
    return Calendar(frozenset(national), frozenset(regional))


def load(
    conn: Connection,
    *,
    tenants: int,
    seed: int,
    tasks_per_tenant: int,
    anchor: datetime,
    reset: bool,
    progress: Progress = SILENT,
) -> DemoSummary:
    """Load the data set in the caller's transaction. Refuses to load twice unless
    ``reset``, which first removes every demo practice (whatever seed or size made it)."""
    ids = tenant_ids(tenants, seed)
    existing = list(conn.execute(DEMO_PRACTICES).scalars())
    if existing and not reset:
        raise UsageError(
            f"demo data is already loaded ({len(existing)} practices); pass --reset to replace it."
        )
    if existing:
        delete(conn, existing)
    conn.execute(RECORD, {"ids": ids, "seed": seed})
    conn.execute(
        UPSERT_FORUMS,
        {
            "ids": [court_id(f.state_code, f.forum) for f in FORUMS],
            "names": [f.name for f in FORUMS],
            "cities": [f.city for f in FORUMS],
            "addresses": [f.address for f in FORUMS],
            "states": [f.state_code for f in FORUMS],
            "forums": [f.forum for f in FORUMS],
        },
    )
    cal = calendar(conn, anchor)
    rng = random.Random(seed)
    raw = conn.connection.driver_connection
    assert isinstance(raw, PgConnection)
    counted = dict.fromkeys(COLUMNS, 0)

    def chunk(start: int) -> dict[str, list[Row]]:
        rows: dict[str, list[Row]] = {table: [] for table in COLUMNS}
        for index in range(start, min(start + TENANTS_PER_CHUNK, len(ids))):
            made = practice(rng, anchor, index, ids[index], tasks_per_tenant, cal)
            for table, table_rows in made.items():
                rows[table].extend(table_rows)
        return rows

    progress.step("loading practices")
    starts = range(0, len(ids), TENANTS_PER_CHUNK)
    # The next chunk is generated while PostgreSQL takes this one (the server's COPY
    # work and Python's generation overlap); chunks are made in order, by one thread,
    # so the rows are the same as without it. At most two chunks are in memory.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gstjobs-demo") as pool:
        pending = pool.submit(chunk, starts[0])
        for i, start in enumerate(starts):
            rows = pending.result()
            if i + 1 < len(starts):
                pending = pool.submit(chunk, starts[i + 1])
            for table, columns in COLUMNS.items():
                _copy(raw, table, columns, rows[table])
                counted[table] += len(rows[table])
            progress.advance(min(start + TENANTS_PER_CHUNK, len(ids)), len(ids))
    return DemoSummary(
        tenants,
        counted["users"],
        counted["clients"],
        counted["cases"],
        counted["hearings"],
        counted["tasks"],
        counted["documents"],
        counted["automation_rules"],
        anchor,
        counted["proceedings"],
        counted["proceeding_events"],
    )


def delete(conn: Connection, ids: Sequence[uuid.UUID]) -> None:
    """Remove these practices and everything the jobs wrote for them."""
    for table in _JOB_TABLES:
        conn.execute(
            text(f"DELETE FROM {table} WHERE tenant_id = ANY(:ids)"),  # our constant
            {"ids": list(ids)},
        )
    conn.execute(text("DELETE FROM tenants WHERE id = ANY(:ids)"), {"ids": list(ids)})
    conn.execute(
        text("DELETE FROM gstjobs_demo_tenants WHERE tenant_id = ANY(:ids)"), {"ids": list(ids)}
    )


def _copy(raw: PgConnection, table: str, columns: Sequence[str], rows: list[Any]) -> None:
    if not rows:
        return
    with (
        raw.cursor() as cur,
        cur.copy(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN"  # names are our constants
        ) as copy,
    ):
        for row in rows:
            copy.write_row(row)
