"""The run ledger and the lock: single flight, skipped, abandoned, recorded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from gstjobs.config import Settings
from tests.conftest import AS_OF, clean_env, url_text
from tests.support import factory
from tests.support.jobs import run_job


def _wait_for(engine: Engine, sql: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            row = conn.execute(text(sql)).first()
        if row is not None:
            return row
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for: {sql}")


def _blocked_run(engine: Engine, db_url: URL) -> tuple[subprocess.Popen[str], Any]:
    """Start `gstjobs run sla-check` in a process that blocks on a row lock we hold."""
    with engine.begin() as conn:
        t = factory.tenant(conn)
        task = factory.task(conn, t, due=AS_OF - timedelta(days=1))
    holder = engine.connect()
    holder.begin()
    holder.execute(text("SELECT 1 FROM tasks WHERE id = :id FOR UPDATE"), {"id": task})
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gstjobs",
            "run",
            "sla-check",
            "--json",
            "--force",
            "--as-of",
            AS_OF.isoformat(),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env({"DATABASE_URL": url_text(db_url)}),
    )
    _wait_for(engine, "SELECT id FROM job_runs WHERE status = 'running'")
    # ... and is inside its work, waiting on our row lock (not still starting up): what
    # the callers then do (a signal, a second run) must meet a run that is blocked.
    _wait_for(
        engine,
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
        timeout=60,
    )
    return proc, holder


def test_concurrent_run_is_skipped_and_exits_0(engine: Engine, db_url: URL, cli: Any) -> None:
    first, holder = _blocked_run(engine, db_url)
    try:
        second = cli("run", "sla-check", "--force", "--json", "--as-of", AS_OF.isoformat())
        assert second.code == 0, second.stderr
        assert second.json()["status"] == "skipped"
        assert second.json()["success"] is True
        assert second.json()["results"]["overdueTasks"] == 0  # the contract's keys, zeroed
    finally:
        holder.rollback()
        holder.close()
    _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    with engine.connect() as conn:
        runs = conn.execute(text("SELECT status FROM job_runs ORDER BY id")).scalars().all()
        audit = (
            conn.execute(
                text("SELECT details FROM audit_log WHERE action_type = 'background_job_execution'")
            )
            .scalars()
            .all()
        )
    assert sorted(runs) == ["skipped", "success"]
    # Every run leaves an audit row; the skipped one says so and took no time.
    assert sorted(d.get("skipped", False) for d in audit) == [False, True]
    assert all(d["status"] == "success" for d in audit)
    assert [d["execution_time_ms"] for d in audit if d.get("skipped")] == [0]


def test_killed_run_is_marked_abandoned(engine: Engine, db_url: URL, cli: Any) -> None:
    proc, holder = _blocked_run(engine, db_url)
    try:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        holder.rollback()
        holder.close()
    # The killed run's session disappears once PostgreSQL notices; the next command sees it.
    deadline = time.monotonic() + 20
    while True:
        history = cli("history", "--json")
        statuses = [r["status"] for r in history.json()["runs"]]
        if statuses == ["abandoned"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert statuses == ["abandoned"]
    run = history.json()["runs"][0]
    assert "died" in run["error"]
    # Its lock went with it: the next run records it abandoned and does the work.
    again = cli("run", "sla-check", "--force", "--json", "--as-of", AS_OF.isoformat())
    assert again.code == 0 and again.json()["status"] == "success"
    assert again.json()["results"]["newlyOverdue"] == 1
    runs = cli("history", "--json").json()["runs"]
    dead = next(r for r in runs if r["runId"] == run["runId"])
    assert dead["status"] == "abandoned" and dead["finishedAt"] is not None


def test_lock_held_elsewhere_records_skipped(engine: Engine, settings: Settings) -> None:
    with engine.connect() as other:
        lock = "SELECT pg_try_advisory_lock(hashtext('gstjobs'), hashtext(:job))"
        assert other.execute(text(lock), {"job": "check-sla-and-overdue"}).scalar_one()
        outcome = run_job(settings, "sla-check", as_of=AS_OF)
        other.execute(text("SELECT pg_advisory_unlock_all()"))
    assert outcome.status == "skipped" and outcome.exit_code == 0
    # Another job is not blocked by it.
    assert run_job(settings, "sla-check", as_of=AS_OF).status == "success"


def test_run_record_holds_what_monitoring_needs(engine: Engine, settings: Settings) -> None:
    outcome = run_job(settings, "sla-check", as_of=AS_OF)
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT * FROM job_runs WHERE id = :id"), {"id": outcome.run_id}
        ).one()
        audit = conn.execute(
            text(
                "SELECT tenant_id, entity_type, details FROM audit_log "
                "WHERE action_type = 'background_job_execution'"
            )
        ).one()
    assert row.job_name == "check-sla-and-overdue"
    assert row.status == "success"
    assert row.host and row.pid > 0
    assert row.finished_at >= row.started_at
    assert row.duration_ms >= 0
    assert row.as_of == AS_OF
    assert row.results["overdueTasks"] == 0
    assert audit.entity_type == "background_job"
    assert audit.details["job_name"] == "check-sla-and-overdue"
    assert audit.details["status"] == "success"
    assert isinstance(audit.details["execution_time_ms"], int)
    assert audit.details["overdue_tasks"] == 0  # results, in the seed's snake_case


def test_sigterm_records_failed(engine: Engine, db_url: URL) -> None:
    proc, holder = _blocked_run(engine, db_url)
    try:
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
    finally:
        holder.rollback()
        holder.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("gstjobs:")] == [
        "gstjobs: interrupted by SIGTERM; the run, if one started, is recorded as failed"
    ]
    row = _wait_for(engine, "SELECT status, error FROM job_runs WHERE status <> 'running'")
    assert row.status == "failed"
    assert row.error == "interrupted by SIGTERM"


def test_a_monitoring_role_never_abandons_a_live_run(engine: Engine, db_url: URL, cli: Any) -> None:
    """pg_stat_activity hides other roles' sessions; the lock in pg_locks does not."""
    role = f"monitor_{db_url.database}"
    with engine.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        conn.execute(text(f'GRANT SELECT, UPDATE ON job_runs TO "{role}"'))
        conn.execute(text(f'GRANT SELECT ON gstjobs_migrations TO "{role}"'))
        conn.commit()
    proc, holder = _blocked_run(engine, db_url)
    try:
        as_monitor = url_text(db_url.set(username=role, password=None))
        seen = cli("history", "--json", env={"DATABASE_URL": as_monitor})
        assert seen.code == 0, seen.stderr
        assert [r["status"] for r in seen.json()["runs"]] == ["running"]
    finally:
        holder.rollback()
        holder.close()
        proc.communicate(timeout=60)
        with engine.connect() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))
            conn.commit()
    assert proc.returncode == 0


def test_environment_is_clean() -> None:
    assert "DATABASE_URL" not in clean_env()
    assert all(not k.startswith("GSTJOBS_") for k in clean_env())


def test_time_travel_that_writes_needs_force_and_is_recorded(engine: Engine, cli: Any) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        factory.task(conn, t, due=AS_OF - timedelta(days=1))
    refused = cli("run", "sla-check", "--as-of", "2027-06-01", "--json")
    assert refused.code == 2
    assert "--dry-run" in refused.stderr and "--force" in refused.stderr
    with engine.connect() as conn:  # refused before anything was written
        assert conn.execute(text("SELECT count(*) FROM job_runs")).scalar() == 0
    looked = cli("run", "sla-check", "--as-of", "2027-06-01", "--dry-run", "--json")
    assert looked.code == 0 and looked.json()["results"]["newlyOverdue"] == 1
    forced = cli("run", "sla-check", "--as-of", "2027-06-01", "--force", "--json")
    assert forced.code == 0 and forced.json()["results"]["newlyOverdue"] == 1
    runs = cli("history", "--json").json()["runs"]
    assert [(r["dryRun"], r["asOfForced"]) for r in runs] == [(False, True), (True, False)]
    now = cli("run", "sla-check", "--json")  # the database clock needs nothing
    assert now.code == 0


def test_a_dry_run_takes_no_lock_and_a_real_run_is_not_skipped_for_it(
    engine: Engine, settings: Settings
) -> None:
    with engine.connect() as other:
        lock = "SELECT pg_try_advisory_lock(hashtext('gstjobs'), hashtext(:job))"
        assert other.execute(text(lock), {"job": "check-sla-and-overdue"}).scalar_one()
        dry = run_job(settings, "sla-check", as_of=AS_OF, dry_run=True)
        real = run_job(settings, "sla-check", as_of=AS_OF)
        other.execute(text("SELECT pg_advisory_unlock_all()"))
    assert dry.status == "success" and dry.dry_run
    assert real.status == "skipped"  # the lock held above is a real run's
