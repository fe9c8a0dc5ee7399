"""`make bench`: time and memory of every job as the data grows.

For each scale (tenants x tasks per tenant) it creates a fresh database, loads the
demo data set with COPY, then runs every job twice through the real command: the
first run does the work, the second shows the idempotent re-run. Wall time comes
from the clock around the process, peak memory from the kernel (wait4's ru_maxrss),
job time from the job's own ``executionTime``. A flat memory column across scales
is the point: jobs stream and work set-based, they do not load tables into Python.

Settings (environment):
  BENCH_SCALES        comma list of TENANTSxTASKS, default "10x100,100x1000,1000x1000"
  BENCH_DATABASE_URL  admin URL of the server to use (else GSTJOBS_TEST_DATABASE_URL,
                      else the embedded PostgreSQL in a temporary directory)
  BENCH_NOTIFY_CAP    GSTJOBS_NOTIFY_CAP for the runs (default: gstjobs' own, 100 per
                      tenant per run; at 1,000 tenants the first runs deliver 100,000
                      messages to the file channel, which dominates their time)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from gstjobs.jobs import JOBS

OUT = Path(__file__).parent / "out"


@dataclass
class Measure:
    label: str
    wall_s: float
    job_s: str
    maxrss_mb: float
    summary: str


def _admin_url() -> tuple[URL, object | None]:
    raw = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("GSTJOBS_TEST_DATABASE_URL")
    if raw:
        return make_url(raw).set(drivername="postgresql+psycopg"), None
    import pgserver

    server = pgserver.get_server(
        Path(tempfile.mkdtemp(prefix="gstjobs-bench-")), cleanup_mode="stop"
    )
    return make_url(server.get_uri()).set(drivername="postgresql+psycopg"), server


def _run(args: list[str], env: dict[str, str]) -> tuple[float, float, str, int]:
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
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.monotonic() - start, usage.ru_maxrss / 1024, out, proc.returncode


def bench_scale(admin: URL, tenants: int, tasks: int, outbox: Path) -> list[Measure]:
    name = f"gstjobs_bench_{tenants}x{tasks}"
    engine = create_engine(admin, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.set(database=name, drivername="postgresql").render_as_string(hide_password=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GSTJOBS_", "SMTP_"))}
    env |= {"DATABASE_URL": url, "GSTJOBS_OUTBOX_DIR": str(outbox), "NO_COLOR": "1"}
    if os.environ.get("BENCH_NOTIFY_CAP"):
        env["GSTJOBS_NOTIFY_CAP"] = os.environ["BENCH_NOTIFY_CAP"]
    measures = []
    wall, rss, out, code = _run(
        ["demo", "--tenants", str(tenants), "--tasks-per-tenant", str(tasks), "--json"], env
    )
    if code:
        raise SystemExit(f"demo load failed at {tenants}x{tasks}")
    loaded = json.loads(out)
    measures.append(
        Measure(
            "load (demo, COPY)",
            wall,
            "-",
            rss,
            f"{loaded['tasks']:,} tasks, {loaded['hearings']:,} hearings",
        )
    )
    for spec in JOBS:
        for attempt in ("first", "re-run"):
            wall, rss, out, code = _run(["run", spec.cli_name, "--json"], env)
            doc = json.loads(out) if out.strip() else {}
            results = doc.get("results", {})
            shown = {
                k: v
                for k, v in results.items()
                if isinstance(v, int | float) and not isinstance(v, bool)
            }
            summary = ", ".join(f"{k}={v}" for k, v in list(shown.items())[:4])
            if code:
                summary = f"exit {code}: {doc.get('error', '')}"[:90]
            measures.append(
                Measure(
                    f"{spec.cli_name} ({attempt})",
                    wall,
                    doc.get("executionTime", "-"),
                    rss,
                    summary,
                )
            )
    engine.dispose()
    with create_engine(admin, poolclass=NullPool, isolation_level="AUTOCOMMIT").connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return measures


def main() -> None:
    scales = [
        tuple(int(n) for n in s.split("x"))
        for s in os.environ.get("BENCH_SCALES", "10x100,100x1000,1000x1000").split(",")
    ]
    admin, server = _admin_url()
    OUT.mkdir(exist_ok=True)
    lines = [
        "# gstjobs bench",
        "",
        f"Server: {admin.set(drivername='postgresql').render_as_string(hide_password=True)}",
        f"Machine: {os.cpu_count()} cores; Python {sys.version.split()[0]}; "
        f"notify cap {os.environ.get('BENCH_NOTIFY_CAP') or 'default (100)'}",
        "",
    ]
    outbox = Path(tempfile.mkdtemp(prefix="gstjobs-bench-outbox-"))
    try:
        for tenants, tasks in scales:
            print(f"== {tenants} tenants x {tasks} tasks", file=sys.stderr)
            lines += [
                f"## {tenants:,} tenants x {tasks:,} tasks = {tenants * tasks:,} tasks",
                "",
                "| step | wall s | job time | peak RSS MB | results |",
                "|---|---:|---:|---:|---|",
            ]
            for m in bench_scale(admin, tenants, tasks, outbox):
                lines.append(
                    f"| {m.label} | {m.wall_s:.2f} | {m.job_s} | {m.maxrss_mb:.0f} | {m.summary} |"
                )
            lines.append("")
    finally:
        shutil.rmtree(outbox, ignore_errors=True)
        if server is not None:
            server.cleanup()  # type: ignore[attr-defined]
    report = "\n".join(lines)
    (OUT / "results.md").write_text(report + "\n")
    print(report)


if __name__ == "__main__":
    main()
