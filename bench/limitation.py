"""Benchmark of limitation-watch at 1,000 practices x 300 proceedings (issue 13).

Creates a fresh database, loads the demo data set (gstjobs.demo: about ``cases`` matters
per practice, each with its proceedings chain consistent with its notice type), then
runs the job through the real command: the first run (the whole register is written and
every due alert queued: a backfill), the re-run at the same --as-of (must change and
send nothing) and the next morning's run (the daily steady state). Wall time from the
clock around the process, the job's own ``executionTime`` and peak RSS (wait4).

    BENCH_LIMITATION_SCALE   TENANTSxCASES (about; 4 demo tasks a case), default 1000x300
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

from gstjobs import demo

ANCHOR = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)  # 07:30 IST
TASKS_PER_CASE = 4  # the demo's matters carry about four tasks each


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
        made = demo.load(
            conn,
            tenants=tenants,
            seed=7,
            tasks_per_tenant=TASKS_PER_CASE * cases,
            anchor=ANCHOR,
            reset=False,
        )
    with db.begin() as conn:
        conn.execute(text("ANALYZE"))
        open_count = conn.execute(
            text("SELECT count(*) FROM proceedings WHERE status = 'open'")
        ).scalar()
    print(
        f"loaded {tenants} practices, {made.cases:,} cases: {made.proceedings:,} proceedings "
        f"({open_count:,} open), {made.proceeding_events:,} events "
        f"in {time.monotonic() - start:.1f}s"
    )
    for label, as_of in (
        ("first run (backfill)", "2026-11-29T07:30"),
        ("re-run, same --as-of", "2026-11-29T07:30"),
        ("next morning", "2026-11-30T07:30"),
    ):
        # A fixed moment, whatever today is: --force, as the guard against a far --as-of asks.
        wall, rss, doc = _run(
            [
                "run",
                "limitation-watch",
                "--as-of",
                as_of,
                "--trigger",
                "manual",
                "--force",
                "--json",
            ],
            env,
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
