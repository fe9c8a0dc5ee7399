"""`make bench`: every job against its SQL floor, at scales S, M and L, in one run.

For each scale (BENCH_SCALES) it creates a database, loads the demo data set
(`gstjobs demo --tenants T --tasks-per-tenant N`) and a twin of it (CREATE DATABASE …
TEMPLATE). Then, job by job in the daily order, at the demo's moment T:

- **first run**: `gstjobs run JOB --as-of T` on the database, and the job's floor
  (bench/floors/JOB.sql: the same observable writes in pure SQL, one psql transaction)
  on the twin; the two are then fingerprinted (bench/fingerprint.py: row count and
  content hash per table) and must be identical;
- **re-run**: the job again at T (idempotent: nothing to do);
- **+15-minute tick**: the job and its floor at T + 15 minutes, fingerprinted again.

Job figures are the job's own work (the run's ``executionTime``: its transaction;
delivery of its own messages after the commit is reported apart, ``deliverySeconds``),
wall time around the process, and peak RSS (wait4). Floor figures are psql's wall
time; for the jobs that run rules, the engine's part is timed apart on both sides
(the job's ``rulesSeconds``, the floor's statements after its ``ENGINE`` marker).
At scales up to BENCH_ROWWISE_MAX tasks it also runs the original specification's
row-at-a-time sla-check (bench/rowwise.py) on a third copy, for its ratio, and it
times the command's start-up. Nothing here is asserted: `make test` times nothing.

Settings (environment):
  BENCH_SCALES        comma list of S, M, L or TENANTSxTASKS (default "S,M,L";
                      S = 10x100, M = 100x1000, L = 1000x1000)
  BENCH_DATABASE_URL  admin URL of the server (else GSTJOBS_TEST_DATABASE_URL, else
                      postgresql://postgres@127.0.0.1:5432/postgres); scratch databases
                      gstjobs_bench_* are created and dropped there
  BENCH_ROWWISE_MAX   largest task count for the row-at-a-time run (default 100000)
  BENCH_KEEP          1: keep the scratch databases afterwards
The report goes to stdout and to bench/RESULTS.md.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).parent.parent))
from bench import fingerprint, rowwise

HERE = Path(__file__).parent
FLOORS = HERE / "floors"
SCALES = {"S": (10, 100), "M": (100, 1000), "L": (1000, 1000)}
JOBS = ("sla-check", "deadline-alerts", "hearing-reminders", "analytics-snapshot", "health-check")
"""The daily jobs in the order of a day (limitation-watch has its own bench)."""
MAX_SECONDS = {
    "sla-check": 15,
    "deadline-alerts": 20,
    "hearing-reminders": 30,
    "analytics-snapshot": 60,
    "health-check": 10,
}
TICK = timedelta(minutes=15)


@dataclass
class Step:
    job: str
    step: str
    job_s: float | None
    wall_s: float
    rss_mb: float
    delivery_s: float | None = None
    rules_s: float | None = None
    floor_s: float | None = None
    floor_rules_s: float | None = None
    same: str = "-"
    summary: str = ""
    extra: dict[str, object] = field(default_factory=dict)


def _admin_url() -> URL:
    raw = (
        os.environ.get("BENCH_DATABASE_URL")
        or os.environ.get("GSTJOBS_TEST_DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    return make_url(raw).set(drivername="postgresql+psycopg")


def _libpq(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _env(url: URL) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GSTJOBS_", "SMTP_"))}
    env |= {
        "DATABASE_URL": _libpq(url),
        "GSTJOBS_OUTBOX_DIR": str(HERE / "out" / "outbox"),
        "NO_COLOR": "1",
    }
    return env


def _process(args: list[str], env: dict[str, str]) -> tuple[float, str, int]:
    """Wall seconds, stdout and exit code of one process."""
    start = time.monotonic()
    proc = subprocess.run(args, env=env, capture_output=True, check=False)
    if proc.returncode:
        sys.stderr.write(proc.stderr.decode(errors="replace")[-2000:])
    return time.monotonic() - start, proc.stdout.decode(), proc.returncode


def _gstjobs(args: list[str], env: dict[str, str]) -> tuple[float, float, str, int]:
    """Wall seconds, the child's peak RSS in MB (wait4), stdout and exit code."""
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gstjobs", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    if code:
        sys.stderr.write(err.decode(errors="replace")[-2000:])
    return time.monotonic() - start, usage.ru_maxrss / 1024, out.decode(), code


def _job_seconds(url: URL, run_id: object) -> float | None:
    """The run's own work as the ledger recorded it (``executionTime`` is rounded)."""
    if not isinstance(run_id, int):
        return None
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        ms = conn.execute(
            text("SELECT duration_ms FROM job_runs WHERE id = :id"), {"id": run_id}
        ).scalar_one_or_none()
    engine.dispose()
    return None if ms is None else ms / 1000


def _floor(job: str, url: URL, as_of: datetime) -> tuple[float | None, float | None]:
    """psql's wall time for the floor script, and the part after its ENGINE marker."""
    script = FLOORS / f"{job}.sql"
    if not script.exists():
        return None, None
    args = [
        "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-d", _libpq(url),
        "-v", f"as_of={as_of.isoformat()}", "-v", "grace_minutes=15", "-v", "run_id=0",
        "-c", "\\timing on", "-f", str(script),
    ]  # fmt: skip
    wall, out, code = _process(args, dict(os.environ))
    if code:
        raise SystemExit(f"floor {job} failed")
    engine_ms = 0.0
    seen = False
    for line in out.splitlines():
        if line.strip() == "ENGINE":
            seen = True
        elif seen and (m := re.match(r"Time: ([0-9.]+) ms", line)):
            engine_ms += float(m.group(1))
    return wall, (engine_ms / 1000 if seen else None)


def _fingerprints(url: URL) -> dict[str, tuple[int, str]]:
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        got = fingerprint.take(conn)
    engine.dispose()
    return got


def _same(a: URL, b: URL) -> str:
    diff = fingerprint.differences(_fingerprints(a), _fingerprints(b))
    return "identical" if not diff else "DIFFERS: " + "; ".join(diff)


def _summary(results: dict[str, object]) -> str:
    shown = {
        k: v
        for k, v in results.items()
        if isinstance(v, int) and not isinstance(v, bool) and v and not k.endswith("Seconds")
    }
    return ", ".join(f"{k}={v:,}" for k, v in list(shown.items())[:5])


def _admin(admin: URL, *statements: str) -> None:
    """Statements outside a transaction (CREATE DATABASE, VACUUM) on ``admin``'s database."""
    engine = create_engine(admin, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for s in statements:
            conn.execute(text(s))  # database names are ours, built from the scale
    engine.dispose()


def bench_scale(admin: URL, label: str, tenants: int, tasks: int) -> tuple[list[Step], str]:
    base = f"gstjobs_bench_{label.lower()}"
    names = (base, f"{base}_floor", f"{base}_row")
    _admin(admin, *(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)' for n in names))
    _admin(admin, f'CREATE DATABASE "{base}"')
    db, twin, row = (admin.set(database=n) for n in names)
    env = _env(db)
    (HERE / "out" / "outbox").mkdir(parents=True, exist_ok=True)
    steps: list[Step] = []
    wall, rss, out, code = _gstjobs(
        ["demo", "--tenants", str(tenants), "--tasks-per-tenant", str(tasks), "--json"], env
    )
    if code:
        raise SystemExit(f"demo load failed at {label}")
    loaded = json.loads(out)
    as_of = datetime.fromisoformat(loaded["anchor"].replace("Z", "+00:00")).astimezone(UTC)
    load = f"{loaded['tasks']:,} tasks, {loaded['hearings']:,} hearings, {loaded['cases']:,} cases"
    steps.append(Step("demo", "load", None, wall, rss, summary=load))
    # A live database has been vacuumed and analysed; the demo's bulk load has not (and
    # autovacuum may be off): settle it once, so the first run is measured on the data
    # a practice would have, not on a table without statistics or visibility map.
    _admin(db, "VACUUM (ANALYZE)")
    _admin(admin, "CHECKPOINT")
    _admin(admin, f'CREATE DATABASE "{names[1]}" TEMPLATE "{base}"')
    rowwise_note = ""
    if tenants * tasks <= int(os.environ.get("BENCH_ROWWISE_MAX", "100000")):
        _admin(admin, f'CREATE DATABASE "{names[2]}" TEMPLATE "{base}"')
        seconds, visited = rowwise.run(_libpq(row), as_of)
        rowwise_note = f"{seconds:.2f} s over {visited:,} open tasks"
        _admin(admin, f'DROP DATABASE IF EXISTS "{names[2]}" WITH (FORCE)')
    for job in JOBS:
        for step, moment in (("first", as_of), ("re-run", as_of), ("+15 min", as_of + TICK)):
            args = ["run", job, "--as-of", moment.isoformat(), "--trigger", "manual", "--force"]
            wall, rss, out, code = _gstjobs([*args, "--json"], env)
            doc = json.loads(out) if out.strip() else {}
            results = doc.get("results", {})
            s = Step(
                job,
                step,
                _job_seconds(db, doc.get("runId")),
                wall,
                rss,
                delivery_s=results.get("deliverySeconds"),
                rules_s=results.get("rulesSeconds"),
                summary=_summary(results) if not code else f"exit {code}: {doc.get('error')}",
            )
            if step != "re-run":
                s.floor_s, s.floor_rules_s = _floor(job, twin, moment)
                if s.floor_s is not None:
                    s.same = _same(db, twin)
            steps.append(s)
            print(_line(s), file=sys.stderr, flush=True)
    if os.environ.get("BENCH_KEEP") != "1":
        _admin(admin, *(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)' for n in names))
    first = next(s for s in steps if s.job == "sla-check" and s.step == "first")
    if rowwise_note and first.job_s:
        seconds = float(rowwise_note.split()[0])
        rowwise_note += f": {seconds / first.job_s:.1f}x the job's first run (rules included)"
    return steps, rowwise_note


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b <= 0:
        return "-"
    return f"{a / b:.2f}x"


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def _line(s: Step) -> str:
    return (
        f"| {s.job} | {s.step} | {_fmt(s.job_s)} | {_fmt(s.floor_s)} | {_ratio(s.job_s, s.floor_s)}"
        f" | {_fmt(s.rules_s)} | {_fmt(s.floor_rules_s)} | {_ratio(s.rules_s, s.floor_rules_s)}"
        f" | {_fmt(s.wall_s)} | {s.rss_mb:.0f} | {_fmt(s.delivery_s)} | {s.same} | {s.summary} |"
    )


HEADER = (
    "| job | step | job s | floor s | job/floor | rules s | floor rules s | rules/floor"
    " | wall s | peak RSS MB | delivery s | floor content | results |\n"
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
)


def startup() -> list[str]:
    """Median of 7 runs of each start-up command, against an empty interpreter."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GSTJOBS_", "DATABASE_URL"))}
    command = str(Path(sys.executable).parent / "gstjobs")  # the entry point cron calls
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "gstjobs --version": [command, "--version"],
        "gstjobs --help": [command, "--help"],
        "gstjobs run --help": [command, "run", "--help"],
    }
    lines = ["| command | median ms |", "|---|---:|"]
    for name, argv in cases.items():
        times = []
        for _ in range(7):
            start = time.monotonic()
            subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times.append((time.monotonic() - start) * 1000)
        lines.append(f"| `{name}` | {statistics.median(times):.0f} |")
    return lines


def _scales() -> list[tuple[str, int, int]]:
    out = []
    for item in os.environ.get("BENCH_SCALES", "S,M,L").split(","):
        item = item.strip()
        if item.upper() in SCALES:
            out.append((item.upper(), *SCALES[item.upper()]))
        else:
            t, n = (int(x) for x in item.lower().split("x"))
            out.append((f"{t}x{n}", t, n))
    return out


def _machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{platform.node()}: {os.cpu_count()} cores ({cpu}), load average at start {load}; "
        f"Python {platform.python_version()}"
    )


def _sections(report: str) -> dict[str, str]:
    """The "## " sections of a report, by heading (the first word after "## Scale")."""
    out: dict[str, str] = {}
    for part in re.split(r"(?m)^(?=## )", report):
        if part.startswith("## "):
            out[part.splitlines()[0]] = part.rstrip() + "\n"
    return out


def main() -> None:
    admin = _admin_url()
    engine = create_engine(admin, poolclass=NullPool)
    with engine.connect() as conn:
        server = conn.execute(text("SHOW server_version")).scalar_one()
    engine.dispose()
    started = datetime.now(UTC)
    scales = os.environ.get("BENCH_SCALES", "S,M,L")
    measured = (
        f"Measured {started:%Y-%m-%d %H:%M} UTC with `BENCH_SCALES={scales} make bench`"
        f" on {_machine()}; PostgreSQL {server}."
    )
    intro = [
        "# gstjobs bench",
        "",
        "Produced by `make bench` (bench/run.py, then bench/delivery.py and bench/limitation.py,",
        "whose reports go to bench/out/). A run over some scales (`BENCH_SCALES`) replaces",
        "those scales' sections and keeps the others; each section says when and how it was",
        "measured.",
        "",
        "Job s: the job's own work (its transaction; its own messages' delivery after the",
        "commit is `delivery s`). Floor s: bench/floors/JOB.sql in one psql transaction on",
        "a twin database; `floor content` compares both databases' row counts and content",
        "hashes per table afterwards. Rules: the rules engine's part of each (sla-check).",
        "The machine is shared: absolute times are noisy, ratios within a run count.",
        "",
    ]
    results = HERE / "RESULTS.md"
    kept = _sections(results.read_text()) if results.exists() else {}
    fresh: dict[str, str] = {}
    for label, tenants, tasks in _scales():
        print(f"== scale {label}: {tenants} tenants x {tasks} tasks", file=sys.stderr)
        steps, rowwise_note = bench_scale(admin, label, tenants, tasks)
        heading = f"## Scale {label}: {tenants:,} practices x {tasks:,} tasks"
        lines = [heading, "", measured, "", HEADER, *(_line(s) for s in steps), ""]
        if rowwise_note:
            lines += [f"Row-at-a-time sla-check (the seed's way, no rules): {rowwise_note}.", ""]
        over = [
            f"{s.job} {s.job_s:.1f} s > {MAX_SECONDS[s.job]} s"
            for s in steps
            if s.job in MAX_SECONDS and s.job_s is not None and s.job_s > MAX_SECONDS[s.job]
        ]
        if over:
            lines += ["Over the specification's maximum: " + "; ".join(over) + ".", ""]
        fresh[heading] = "\n".join(lines).rstrip() + "\n"
    fresh["## Start-up"] = "\n".join(["## Start-up", "", measured, "", *startup()]) + "\n"
    labels = {h.split(":")[0] for h in fresh}
    merged = {h: v for h, v in kept.items() if h.split(":")[0] not in labels} | fresh
    order = sorted(merged, key=lambda h: (h == "## Start-up", "SML".find(h[9:10]), h))
    report = "\n".join(intro) + "\n" + "\n".join(merged[h] for h in order)
    results.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
