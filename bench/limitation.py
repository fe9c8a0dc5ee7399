"""Benchmark of limitation-watch at 1,000 practices x 300 proceedings (issue 13).

Creates a fresh database, loads practices, users, clients and cases set-based
(generate_series), adds the demo proceedings of gstjobs.limitation.demo (one or two per
case, consistent with the statute), then runs the job through the real command: the
first run (the whole register is written and every due alert queued: a backfill), the
re-run at the same --as-of (must change and send nothing) and the next morning's run
(the daily steady state). Wall time from the clock around the process, the job's own
``executionTime`` and peak RSS (wait4).

    BENCH_LIMITATION_SCALE   TENANTSxCASES, default 1000x300
    BENCH_DATABASE_URL       admin URL (else GSTJOBS_TEST_DATABASE_URL, else embedded)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from gstjobs.limitation import demo

NOTICES = ("ASMT-10", "DRC-01A", "DRC-01 s.73", "DRC-01 s.74", "APL-01", "GSTAT")
ANCHOR = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)  # 07:30 IST

LOAD = text(
    """
    WITH t AS (
        INSERT INTO tenants (id, name, timezone)
        SELECT gen_random_uuid(), 'Bench practice ' || g, 'Asia/Kolkata'
        FROM generate_series(1, :tenants) AS g
        RETURNING id
    ), u AS (
        INSERT INTO users (tenant_id, full_name, email, role)
        SELECT t.id, 'User ' || r.n, 'user' || r.n || '.' || t.id || '@bench.example.in', r.role
        FROM t CROSS JOIN (VALUES (1, 'admin'), (2, 'advocate'), (3, 'advocate'),
                                  (4, 'advocate'), (5, 'staff'), (6, 'staff')) AS r (n, role)
        RETURNING tenant_id, id, role
    ), cl AS (
        INSERT INTO clients (tenant_id, name, gstin)
        SELECT t.id, 'Client ' || g, '33AAACK' || lpad(g::text, 4, '0') || 'F1Z5'
        FROM t CROSS JOIN generate_series(1, 50) AS g
        RETURNING tenant_id, id
    ), staff AS (
        SELECT tenant_id, array_agg(id ORDER BY id) AS ids FROM u
        WHERE role IN ('admin', 'advocate') GROUP BY tenant_id
    ), clients AS (
        SELECT tenant_id, array_agg(id ORDER BY id) AS ids FROM cl GROUP BY tenant_id
    )
    INSERT INTO cases (tenant_id, case_number, title, status, owner_id, assigned_to, client_id,
                       notice_type, created_at)
    SELECT s.tenant_id,
           split_part(n.notice, ' ', 1) || '/' || (2019 + g % 5) || '-'
               || lpad(((20 + g % 5) % 100)::text, 2, '0') || '/' || lpad(g::text, 5, '0'),
           'Bench matter ' || g, CASE WHEN g % 10 = 0 THEN 'Closed' ELSE 'Active' END,
           s.ids[1 + g % 4], s.ids[1 + (g + 1) % 4], c.ids[1 + g % 50], n.notice,
           CAST(:anchor AS timestamptz) - make_interval(days => g % 65)
    FROM staff s
    JOIN clients c ON c.tenant_id = s.tenant_id
    CROSS JOIN generate_series(1, :cases) AS g
    CROSS JOIN LATERAL (SELECT (CAST(:notices AS text[]))[1 + g % 6] AS notice) AS n
    """
)


def _admin_url() -> tuple[URL, object | None]:
    raw = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("GSTJOBS_TEST_DATABASE_URL")
    if raw:
        return make_url(raw).set(drivername="postgresql+psycopg"), None
    import pgserver

    server = pgserver.get_server(
        Path(tempfile.mkdtemp(prefix="gstjobs-bench-")), cleanup_mode="stop"
    )
    return make_url(server.get_uri()).set(drivername="postgresql+psycopg"), server


def _run(args: list[str], env: dict[str, str]) -> tuple[float, float, dict[str, object]]:
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gstjobs", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"gstjobs {' '.join(args)} failed: {out[:300]}")
    return time.monotonic() - start, usage.ru_maxrss / 1024, json.loads(out) if out.strip() else {}


def main() -> None:
    tenants, cases = (
        int(x) for x in os.environ.get("BENCH_LIMITATION_SCALE", "1000x300").split("x")
    )
    admin, server = _admin_url()
    name = f"gstjobs_bench_limitation_{tenants}x{cases}"
    engine = create_engine(admin, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.set(database=name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GSTJOBS_", "SMTP_"))}
    env |= {
        "DATABASE_URL": url.set(drivername="postgresql").render_as_string(hide_password=False),
        "NO_COLOR": "1",
        "GSTJOBS_OUTBOX_DIR": tempfile.mkdtemp(prefix="gstjobs-bench-outbox-"),
    }
    _run(["db", "upgrade", "--json"], env)
    start = time.monotonic()
    db = create_engine(url, poolclass=NullPool)
    with db.begin() as conn:
        conn.execute(
            LOAD, {"tenants": tenants, "cases": cases, "anchor": ANCHOR, "notices": list(NOTICES)}
        )
        ids = list(conn.execute(text("SELECT id FROM tenants")).scalars())
        made = demo.generate(conn, ids, ANCHOR)
    with db.begin() as conn:
        conn.execute(text("ANALYZE"))
        open_count = conn.execute(
            text("SELECT count(*) FROM proceedings WHERE status = 'open'")
        ).scalar()
    print(
        f"loaded {tenants} practices x {cases} cases: {made.proceedings:,} proceedings "
        f"({open_count:,} open), {made.events:,} events in {time.monotonic() - start:.1f}s"
    )
    for label, as_of in (
        ("first run (backfill)", "2026-11-29T07:30"),
        ("re-run, same --as-of", "2026-11-29T07:30"),
        ("next morning", "2026-11-30T07:30"),
    ):
        wall, rss, doc = _run(
            ["run", "limitation-watch", "--as-of", as_of, "--trigger", "manual", "--json"], env
        )
        results = doc.get("results", {})
        shown = ", ".join(
            f"{k}={results[k]}"
            for k in ("proceedingsScanned", "datesComputed", "datesChanged", "notificationsQueued")
            if k in results
        )
        print(
            f"{label:22} wall {wall:5.1f}s  job {doc.get('executionTime')}  "
            f"peak RSS {rss:.0f} MB  {shown}"
        )
    db.dispose()
    engine.dispose()
    if server is not None:
        server.cleanup()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
