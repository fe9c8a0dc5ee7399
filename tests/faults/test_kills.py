"""Kills, signals and concurrency across every job, then the invariants (issue 9).

Rounds of four concurrent `gstjobs run` processes (random jobs, all at one moment) on
a demo data set; in each round some are killed with SIGKILL or stopped with SIGTERM
at random points (while starting, connecting, working, committing or sending). Then
every job runs once more, cleanly, to finish what was left. The same data set, run
cleanly on a twin database, is the reference. Afterwards:

- nothing lost, nothing twice: the flags, events, rule executions, created tasks,
  queued and delivered notifications and snapshots equal the clean run's;
- no stray ``running`` row: every run is finished or shows as abandoned;
- every finished run has exactly one ``audit_log`` row.

``make test`` runs a few rounds; ``make faults`` (GSTJOBS_FAULTS=1) many more.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from tests.conftest import AT_ANY_HOUR, clean_env, url_text

LONG = os.environ.get("GSTJOBS_FAULTS") == "1"
ROUNDS = 40 if LONG else 4
CONCURRENCY = 4
AS_OF = "2026-12-01T10:00:00+05:30"
JOBS = (
    "sla-check",
    "deadline-alerts",
    "hearing-reminders",
    "analytics-snapshot",
    "health-check",
    "deliver",
)

ROWS = {
    "tasks": """
        SELECT concat_ws('|', coalesce(c.case_number, '-'), t.title, t.due_date, t.priority,
                         t.status, t.assigned_to, t.is_overdue, t.overdue_since,
                         t.sla_breached, t.sla_breached_at)
        FROM tasks t LEFT JOIN cases c ON c.id = t.case_id
    """,
    "events": """
        SELECT concat_ws('|', tenant_id, event_type, dedup_key, payload,
                         processed_at IS NOT NULL)
        FROM automation_events
    """,
    "rule executions": """
        SELECT concat_ws('|', l.rule_id, e.dedup_key, l.status, l.error_message)
        FROM automation_logs l JOIN automation_events e ON e.id = l.event_id
    """,
    "notifications": """
        SELECT concat_ws('|', n.tenant_id, n.user_id, n.channel, n.template,
                         -- a rule notification's key names its event by id (a sequence
                         -- number, which differs between databases): use the event's key
                         coalesce(replace(n.dedup_key, ':event:' || e.id || ':',
                                          ':event:' || e.dedup_key || ':'), n.dedup_key))
        FROM notifications n
        LEFT JOIN automation_events e
               ON e.id = CAST(substring(n.dedup_key FROM ':event:([0-9]+):') AS bigint)
    """,
    "snapshots": """
        SELECT concat_ws('|', tenant_id, snapshot_date, metric_value - 'as_of')
        FROM analytics_snapshots
    """,
    "per-task audit": """
        SELECT concat_ws('|', action_type, entity_id, details - 'run_id')
        FROM audit_log WHERE action_type <> 'background_job_execution'
    """,
}
"""What each table holds that a run decides, as one line per row (no ids or clocks of
its own): the fingerprint is the md5 of the sorted lines, and their count. A rule
notification's payload is a snapshot of its task when queued, so it depends on which
job ran first (an escalation may come before or after it): its identity is compared."""


def _gstjobs(url: URL, outbox: Path, *args: str) -> subprocess.Popen[bytes]:
    env = clean_env(
        {
            "DATABASE_URL": url_text(url),
            "GSTJOBS_OUTBOX_DIR": str(outbox),
            "GSTJOBS_NOTIFY_CAP": "100000",  # one clean delivery run sends everything due
            **AT_ANY_HOUR,  # at 21:00-08:00 IST routine messages would rightly wait
        }
    )
    return subprocess.Popen(
        [sys.executable, "-m", "gstjobs", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )


def _clean_pass(url: URL, outbox: Path) -> None:
    for job in JOBS:
        proc = _gstjobs(url, outbox, "run", job, "--force", "--as-of", AS_OF, "--trigger", "manual")
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{job}: {err.decode()}"


def _fingerprints(engine: Engine) -> dict[str, tuple[str, int]]:
    out = {}
    with engine.connect() as conn:
        for name, rows in ROWS.items():
            row = conn.execute(
                text(f"SELECT md5(string_agg(x, ',' ORDER BY x)), count(*) FROM ({rows}) s (x)")
            ).one()
            out[name] = (row[0] or "", int(row[1]))
    return out


def _difference(a: Engine, b: Engine, name: str) -> tuple[list[str], list[str]]:
    """The lines of table ``name`` only in ``a``, and only in ``b`` (a few of each)."""

    def lines(engine: Engine) -> set[str]:
        with engine.connect() as conn:
            return set(conn.execute(text(ROWS[name])).scalars())

    left, right = lines(a), lines(b)
    return sorted(left - right)[:5], sorted(right - left)[:5]


@pytest.fixture
def twin(admin_url: URL, db_url: URL) -> Iterator[URL]:
    """A second database; filled by the test with the same demo data."""
    name = f"gstjobs_twin_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{db_url.database}"'))
    yield admin_url.set(database=name)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _wait_for_run(url: URL, pid: int, timeout: float = 10) -> None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            with engine.connect() as conn:
                if conn.execute(text("SELECT 1 FROM job_runs WHERE pid = :p"), {"p": pid}).first():
                    return
            time.sleep(0.02)
    finally:
        engine.dispose()


def _load_demo(url: URL, outbox: Path) -> None:
    proc = _gstjobs(
        url,
        outbox,
        *("demo", "--tenants", "3", "--tasks-per-tenant", "300", "--seed", "11", "--as-of", AS_OF),
    )
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    # Work long enough to be killed in the middle of: each event written and each
    # message recorded costs a millisecond more (a trigger, in the database itself).
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text(SLOW))
    engine.dispose()


SLOW = """
CREATE FUNCTION test_slow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_sleep(0.001); RETURN NEW; END $$;
CREATE TRIGGER test_slow BEFORE INSERT ON automation_events
  FOR EACH ROW EXECUTE FUNCTION test_slow();
CREATE TRIGGER test_slow BEFORE UPDATE ON notifications
  FOR EACH ROW EXECUTE FUNCTION test_slow();
CREATE TRIGGER test_slow BEFORE INSERT ON automation_logs
  FOR EACH ROW EXECUTE FUNCTION test_slow();
"""


def test_kills_and_concurrency_lose_nothing_and_do_nothing_twice(
    db_url: URL, twin: URL, tmp_path: Path
) -> None:
    rng = random.Random(20261129)
    _load_demo(db_url, tmp_path / "chaos-outbox")
    _load_demo(twin, tmp_path / "clean-outbox")

    kills = terms = started = 0
    for _ in range(ROUNDS):
        procs = [
            _gstjobs(
                db_url,
                tmp_path / "chaos-outbox",
                "run",
                rng.choice(JOBS),
                "--force",
                "--as-of",
                AS_OF,
            )
            for _ in range(CONCURRENCY)
        ]
        started += len(procs)
        for proc in rng.sample(procs, rng.randint(1, 2)):
            if rng.random() < 0.5:
                time.sleep(rng.uniform(0.1, 2.0))  # anywhere: starting, connecting, working
            else:  # inside the run: once its ledger row exists
                _wait_for_run(db_url, proc.pid)
                time.sleep(rng.uniform(0.0, 0.5))
            if rng.random() < 0.7:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            else:
                proc.send_signal(signal.SIGTERM)
                terms += 1
        for proc in procs:
            _, err = proc.communicate(timeout=300)
            text_err = err.decode()
            assert "Traceback" not in text_err
            assert proc.returncode in (0, 1, -signal.SIGKILL, -signal.SIGTERM), text_err
    _clean_pass(db_url, tmp_path / "chaos-outbox")
    _clean_pass(twin, tmp_path / "clean-outbox")

    chaos = create_engine(db_url, poolclass=NullPool)
    clean = create_engine(twin, poolclass=NullPool)
    try:
        # Nothing lost and nothing twice: the same final state as the clean run.
        got, want = _fingerprints(chaos), _fingerprints(clean)
        for name in ROWS:
            assert got[name] == want[name], (name, _difference(chaos, clean, name))
        with chaos.connect() as conn:
            # The killed runs' sessions are gone; none still holds a lock as "running".
            deadline = time.monotonic() + 30
            while True:
                live = conn.execute(
                    text(
                        "SELECT count(*) FROM job_runs r WHERE r.status = 'running' AND EXISTS "
                        "(SELECT 1 FROM pg_stat_activity a WHERE a.pid = r.backend_pid)"
                    )
                ).scalar_one()
                if not live or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert live == 0
            # Every finished run has exactly one audit row.
            missing = conn.execute(
                text(
                    """
                    SELECT count(*) FROM job_runs r
                    WHERE r.status IN ('success', 'failed', 'skipped')
                      AND (SELECT count(*) FROM audit_log a
                           WHERE a.action_type = 'background_job_execution'
                             AND (a.details ->> 'run_id')::bigint = r.id) <> 1
                    """
                )
            ).scalar_one()
            assert missing == 0
            # Delivery: none given up; what a killed sender had claimed waits for its lease
            # to run out (it may then repeat at most the message that was in flight).
            states = dict(
                conn.execute(text("SELECT status, count(*) FROM notifications GROUP BY 1")).all()
            )
            assert "failed" not in states
            held = conn.execute(
                text(
                    "SELECT count(*) FROM notifications WHERE status = 'pending' "
                    "AND (attempts = 0 OR next_attempt_at <= now())"
                )
            ).scalar_one()
            assert held == 0, "a pending message was neither sent nor held by a lease"
            summary = {
                "rounds": ROUNDS,
                "processes": started,
                "sigkill": kills,
                "sigterm": terms,
                "notifications": states,
                "runs": dict(
                    conn.execute(text("SELECT status, count(*) FROM job_runs GROUP BY 1")).all()
                ),
            }
        print(json.dumps(summary))
    finally:
        chaos.dispose()
        clean.dispose()
