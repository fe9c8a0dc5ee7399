"""Operations (issue 14): the slot ledger, run-due and its policies, pause and resume,
several hosts at once, and shards."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from gstjobs import slots
from gstjobs.jobs import JOBS, find
from gstjobs.ops import rundue
from tests.conftest import clean_env, url_text
from tests.support import factory

IST = ZoneInfo("Asia/Kolkata")


def _now(engine: Engine) -> datetime:
    with engine.connect() as conn:
        now: datetime = conn.execute(text("SELECT now()")).scalar_one()
    return now


def _served(engine: Engine, job: str, slot: datetime) -> None:
    """A successful run that served ``slot``, as the runner records one."""
    with engine.begin() as conn:
        run_id = conn.execute(
            text(
                "INSERT INTO job_runs (job_name, status, trigger, host, pid, started_at, "
                "finished_at, duration_ms) VALUES (:j, 'success', 'scheduled', 'earlier-host', "
                "1, :at, :at, 10) RETURNING id"
            ),
            {"j": job, "at": slot},
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO job_slots (job_name, shard, scheduled_at, state, run_id) "
                "VALUES (:j, '', :s, 'ran', :r)"
            ),
            {"j": job, "s": slot, "r": run_id},
        )


def _slot_states(engine: Engine, job: str) -> list[tuple[datetime, str]]:
    with engine.connect() as conn:
        return [
            (r.scheduled_at, r.state)
            for r in conn.execute(
                text(
                    "SELECT scheduled_at, state FROM job_slots WHERE job_name = :j "
                    "ORDER BY scheduled_at"
                ),
                {"j": job},
            )
        ]


def test_a_scheduled_run_serves_its_slot_on_time_late_or_catching_up(
    engine: Engine, cli: Any
) -> None:
    sla = find("sla-check")
    now = _now(engine)
    latest = slots.slot_at(sla, IST, now)
    grace = slots.grace(sla, IST, now)
    # On time: its own slot, started within the grace (or, near a boundary, just after).
    on_time = cli("run", "sla-check", "--trigger", "scheduled", "--slot", latest.isoformat())
    assert on_time.code == 0, on_time.stderr
    state = dict(_slot_states(engine, sla.name))[latest]
    assert state == ("ran" if now - latest <= grace else "late")
    # Served already: a second host's run for the same slot records itself skipped.
    again = cli(
        "run", "sla-check", "--trigger", "scheduled", "--json", "--slot", latest.isoformat()
    )
    assert again.code == 0 and again.json()["status"] == "skipped"
    assert "served this slot already" in again.json()["message"]
    # An older slot no run served: caught up (run-due names it).
    older = latest - timedelta(minutes=30)
    caught = cli("run", "sla-check", "--trigger", "scheduled", "--slot", older.isoformat())
    assert caught.code == 0, caught.stderr
    assert dict(_slot_states(engine, sla.name))[older] == "caught_up"


def test_late_after_the_grace_and_missed_slots_written_by_the_next_run(
    engine: Engine, cli: Any
) -> None:
    sla = find("sla-check")
    now = _now(engine)
    latest = slots.slot_at(sla, IST, now)
    _served(engine, sla.name, latest - timedelta(minutes=60))
    # The latest slot, but started past its grace: late. (Name the slot 16 minutes back
    # so that "past the grace" holds whatever the minute of the test.)
    stale = latest - timedelta(minutes=15)
    late = cli("run", "sla-check", "--trigger", "scheduled", "--slot", stale.isoformat())
    assert late.code == 0, late.stderr
    states = dict(_slot_states(engine, sla.name))
    # the slots between the one served an hour before and this one got no run
    assert states[latest - timedelta(minutes=45)] == "missed"
    assert states[latest - timedelta(minutes=30)] == "missed"
    assert states[stale] == "caught_up"


def test_run_due_after_a_26_hour_gap_does_what_each_policy_says(engine: Engine, cli: Any) -> None:
    now = _now(engine)
    local_now = now.astimezone(IST)
    sla, nightly, reminders = (
        find("sla-check"),
        find("analytics-snapshot"),
        find("hearing-reminders"),
    )
    _served(engine, sla.name, slots.slot_at(sla, IST, now - timedelta(hours=26)))
    last_night = slots.slot_at(nightly, IST, now)
    _served(engine, nightly.name, last_night - timedelta(days=3))
    latest_reminder = slots.slot_at(reminders, IST, now)
    _served(engine, reminders.name, latest_reminder - timedelta(days=2))
    with engine.begin() as conn:
        factory.tenant(conn)

    planned = cli("run-due", "--dry-run", "--json")
    assert planned.code == 0, planned.stderr
    due: dict[str, list[dict[str, Any]]] = {}
    for d in planned.json()["due"]:
        due.setdefault(d["job"], []).append(d)
    # the SLA check: once, for the latest slot only
    assert [d["slot"] for d in due["sla-check"]] == [
        slots.slot_at(sla, IST, now).astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")
    ]
    # the nightly snapshot: each missed night, each as of its own 23:59
    assert len(due["analytics-snapshot"]) == 3
    assert all(d["asOf"] == d["slot"] for d in due["analytics-snapshot"][:2])
    # reminders: never for a day that has passed; today's only if 08:00 has come
    today = [d for d in due.get("hearing-reminders", [])]
    assert len(today) == (1 if local_now.hour >= 8 else 0)

    ran = cli("run-due", "--json")
    assert ran.code == 0, ran.stderr
    states = dict(_slot_states(engine, nightly.name))
    nights = [last_night - timedelta(days=n) for n in (2, 1)]
    assert [states[n] for n in nights] == ["caught_up", "caught_up"]
    with engine.connect() as conn:
        dates = set(conn.execute(text("SELECT snapshot_date FROM analytics_snapshots")).scalars())
    assert {n.astimezone(IST).date() for n in [*nights, last_night]} <= dates
    # the reminder slot of yesterday stays missed: nothing is sent for a day gone by
    assert dict(_slot_states(engine, reminders.name)).get(latest_reminder - timedelta(days=1)) in (
        None,
        "missed",
    )


def test_a_nightly_snapshot_started_after_its_day_is_the_snapshot_of_its_day(
    engine: Engine, cli: Any
) -> None:
    """Cron fired at 23:59 and the run began after midnight (or run-due caught it up):
    the snapshot is dated the slot's day, as of the slot, never the new day."""
    nightly = find("analytics-snapshot")
    with engine.begin() as conn:
        factory.tenant(conn)
    now = _now(engine)
    slot = slots.slot_at(nightly, IST, now) - timedelta(days=1)
    named = ("run", "analytics-snapshot", "--trigger", "scheduled", "--slot", slot.isoformat())
    # Named by hand, a slot a day back writes as of then: as with --as-of, only with --force.
    refused = cli(*named)
    assert refused.code == 2 and "add --force" in refused.stderr
    # A slot still to come is no slot to serve.
    tomorrow = (now + timedelta(days=1)).isoformat()
    assert cli("run", "analytics-snapshot", "--trigger", "scheduled", "--slot", tomorrow).code == 2
    # A dry run looks without --force, and is dated as the real run will be.
    looked = cli(*named, "--dry-run", "--json")
    assert looked.code == 0, looked.stderr
    assert looked.json()["results"]["fromDate"] == slot.astimezone(IST).date().isoformat()
    ran = cli(*named, "--force", "--json")
    assert ran.code == 0, ran.stderr
    assert ran.json()["status"] == "success"
    with engine.connect() as conn:
        dates = set(conn.execute(text("SELECT snapshot_date FROM analytics_snapshots")).scalars())
        as_of = conn.execute(
            text("SELECT as_of FROM job_runs WHERE job_name = :j AND NOT dry_run"),
            {"j": nightly.name},
        ).scalar_one()
    assert dates == {slot.astimezone(IST).date()}
    assert as_of == slot


def test_two_hosts_running_run_due_at_once_run_each_slot_once(
    engine: Engine, db_url: URL, tmp_path: Any
) -> None:
    with engine.begin() as conn:
        factory.tenant(conn)
    env = clean_env({"DATABASE_URL": url_text(db_url), "GSTJOBS_DATA_DIR": str(tmp_path)})
    before = _due_on_a_fresh_database(_now(engine))
    procs = [
        subprocess.Popen([sys.executable, "-m", "gstjobs", "run-due"], env=env, cwd=tmp_path)
        for _ in range(2)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    after = _due_on_a_fresh_database(_now(engine))
    with engine.connect() as conn:
        served = conn.execute(
            text(
                "SELECT s.job_name, s.scheduled_at, count(r.id) AS runs FROM job_slots s "
                "JOIN job_runs r ON r.job_name = s.job_name AND r.status = 'success' "
                "AND r.trigger = 'scheduled' AND r.id = s.run_id "
                "GROUP BY 1, 2"
            )
        ).all()
        successes = conn.execute(
            text("SELECT job_name, count(*) FROM job_runs WHERE status = 'success' GROUP BY 1")
        ).all()
    assert served and all(r.runs == 1 for r in served)
    # one successful run per job (each job had one due slot), whatever the other host did
    assert all(n == 1 for _, n in successes)
    # every job due when both started ran (a boundary crossed meanwhile may add one)
    assert before & after <= {j for j, _ in successes} <= before | after
    assert find("sla-check").name in before & after


def _due_on_a_fresh_database(now: datetime) -> set[str]:
    """The jobs run-due starts at ``now`` when none has run: every job, but one that
    never catches up a day gone by (hearing reminders …) only once its time today has
    come (before 07:00 IST, none of those)."""
    today = now.astimezone(IST).date()
    return {
        s.name
        for s in JOBS
        if s.catch_up != "today-only" or slots.slot_at(s, IST, now).astimezone(IST).date() == today
    }


def test_run_due_says_each_failed_run_once(engine: Engine, cli: Any) -> None:
    """A run that fails prints its line; run-due printed its own as well, so cron mailed
    each failure twice (review): now once, named by job, with the run's own words."""
    with engine.begin() as conn:
        factory.tenant(conn)
        conn.execute(text("ALTER TABLE analytics_snapshots RENAME TO analytics_gone"))
    ran = cli("run-due")
    assert ran.code == 1
    said = [ln for ln in ran.stderr.splitlines() if ln.startswith("gstjobs:")]
    assert len(said) == 1 and said[0].startswith("gstjobs: analytics-snapshot failed: ")
    assert "analytics_snapshots" in said[0], said


@pytest.mark.parametrize(
    ("child", "says"),
    [
        # a line that is not UTF-8 must not lose the failure (it did: exit 0, no line)
        ("printf 'caf\\351\\n' >&2\nprintf 'gstjobs: boom\\n' >&2\nexit 1\n", "failed: boom"),
        # killed by a signal (the OOM killer): exit 1 and the signal named, not exit 247
        ("kill -9 $$\n", "failed: killed by SIGKILL"),
    ],
    ids=["not-utf-8", "killed"],
)
def test_run_due_says_a_childs_failure_whatever_the_child_did(
    engine: Engine, db_url: URL, tmp_path: Any, child: str, says: str
) -> None:
    """run-due's children replaced by a shell script that fails as ``child`` does."""
    with engine.begin() as conn:
        factory.tenant(conn)
    fake = tmp_path / "child.sh"
    fake.write_text("#!/bin/sh\n" + child)
    fake.chmod(0o755)
    code = (
        f"import sys; sys.executable = {str(fake)!r}\n"
        "from gstjobs.cli import main\nsys.exit(main(['run-due']))\n"
    )
    env = clean_env({"DATABASE_URL": url_text(db_url), "GSTJOBS_DATA_DIR": str(tmp_path)})
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120, env=env)
    err = done.stderr.decode(errors="replace")
    assert done.returncode == 1, err
    assert says in err and "Traceback" not in err


def test_pause_holds_scheduled_runs_and_resume_lets_them_go(engine: Engine, cli: Any) -> None:
    paused = cli("pause", "sla-check", "--reason", "data migration tonight")
    assert paused.code == 0, paused.stderr
    held = cli("run", "sla-check", "--trigger", "scheduled", "--json")
    assert held.code == 0 and held.json()["status"] == "skipped"
    assert "paused" in held.json()["message"]
    manual = cli("run", "sla-check", "--trigger", "manual", "--json")
    assert manual.json()["status"] == "success"  # an operator's own run still runs
    status = cli("status", "--json").json()
    (row,) = [j for j in status["jobs"] if j["cliName"] == "sla-check"]
    assert row["paused"] and row["pausedReason"] == "data migration tonight"
    plan = cli("run-due", "--dry-run", "--json").json()
    assert "sla-check" in {h["job"] for h in plan["held"]}
    assert cli("resume", "sla-check").code == 0
    # The slot the paused run left (state paused) is served now; a manual run serves none.
    assert cli("run", "sla-check", "--trigger", "scheduled", "--json").json()["status"] == (
        "success"
    )
    with engine.connect() as conn:
        actions = list(
            conn.execute(
                text(
                    "SELECT action_type FROM audit_log WHERE action_type LIKE 'job_%' "
                    "ORDER BY timestamp"
                )
            ).scalars()
        )
    assert actions == ["job_paused", "job_resumed"]


def test_shards_cover_every_practice_exactly_once(engine: Engine, cli: Any) -> None:
    now = _now(engine)
    with engine.begin() as conn:
        practices = [factory.tenant(conn, f"Practice {i}") for i in range(8)]
        for t in practices:
            factory.task(conn, t, due=now - timedelta(days=1))
    runs = [cli("run", "sla-check", "--shard", f"{k}/3", "--json") for k in range(3)]
    assert all(r.code == 0 for r in runs), [r.stderr for r in runs]
    with engine.connect() as conn:
        by_run = conn.execute(
            text(
                "SELECT run_id, array_agg(DISTINCT tenant_id) AS tenants FROM automation_events "
                "GROUP BY run_id"
            )
        ).all()
        shards = set(conn.execute(text("SELECT shard FROM job_runs")).scalars())
    seen = [t for r in by_run for t in r.tenants]
    assert sorted(seen) == sorted(practices)  # each practice once, in exactly one shard
    assert shards == {"0/3", "1/3", "2/3"}
    bad = cli("run", "sla-check", "--shard", "3/3")
    assert bad.code == 2 and "--shard" in bad.stderr


@contextmanager
def _held_run(
    engine: Engine, db_url: URL, tmp_path: Any, practice: Any, *args: str
) -> Iterator[None]:
    """A real ``run sla-check`` (``args`` added) waiting on a new overdue task of
    ``practice``, its row locked by another session, so the run holds its job lock
    meanwhile; on exit the row is let go and the run must succeed."""
    with engine.begin() as conn:
        task = factory.task(conn, practice, due=_now(engine) - timedelta(days=1))
    env = clean_env(
        {
            "DATABASE_URL": url_text(db_url),
            "GSTJOBS_DATA_DIR": str(tmp_path),
            "GSTJOBS_LOCK_TIMEOUT": "60",
        }
    )
    holder = engine.connect()
    holder.begin()
    holder.execute(text("SELECT 1 FROM tasks WHERE id = :id FOR UPDATE"), {"id": task})
    proc = subprocess.Popen(
        [sys.executable, "-m", "gstjobs", "run", "sla-check", "--json", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 60
        waiting = None
        while waiting is None and time.monotonic() < deadline:
            time.sleep(0.05)
            with engine.connect() as conn:
                waiting = conn.execute(
                    text(
                        "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock' "
                        "AND application_name LIKE 'gstjobs%'"
                    )
                ).first()
        assert waiting is not None, proc.communicate(timeout=60)
        yield
    finally:
        holder.rollback()
        holder.close()
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and json.loads(out)["status"] == "success", err


def test_a_shard_and_an_unsharded_run_of_a_job_exclude_each_other(
    engine: Engine, db_url: URL, tmp_path: Any, cli: Any
) -> None:
    """An unsharded run covers every shard's practices, so it and any shard of the same
    job run one at a time (the loser records skipped, exits 0); shards of one N do not."""
    with engine.begin() as conn:
        practice = factory.tenant(conn)
    mine, other = f"{practice.int % 2}/2", f"{1 - practice.int % 2}/2"

    def outcome(*args: str) -> str:
        run = cli("run", "sla-check", "--json", *args)
        assert run.code == 0, run.stderr
        status: str = run.json()["status"]
        return status

    with _held_run(engine, db_url, tmp_path, practice):
        assert outcome("--shard", "0/1") == "skipped"
        assert outcome("--shard", other) == "skipped"
    with _held_run(engine, db_url, tmp_path, practice, "--shard", mine):
        assert outcome() == "skipped"
        assert outcome("--shard", mine) == "skipped"
        assert outcome("--shard", other) == "success"  # shards of one N side by side
    with engine.connect() as conn:
        skipped = conn.execute(
            text(
                "SELECT count(*) FROM job_runs WHERE status = 'skipped' AND blocked_by IS NOT NULL"
            )
        ).scalar_one()
    assert skipped == 4  # each skip names the run in its way


def test_the_first_run_due_of_a_fresh_install_runs_what_the_docs_say(engine: Engine) -> None:
    """docs/operations.md: enabled at 14:07 the first run-due sends that morning's
    reminders and digest; enabled before the first daily slot it does not."""
    wednesday = datetime(2026, 11, 25, tzinfo=IST)
    with engine.connect() as conn:
        late, _ = rundue.plan(conn, JOBS, IST, wednesday.replace(hour=14, minute=7))
        early, _ = rundue.plan(conn, JOBS, IST, wednesday.replace(hour=5, minute=7))
    daily = {"health-check", "limitation-watch", "hearing-reminders", "deadline-alerts"}
    others = {"sla-check", "deliver", "prune", "analytics-snapshot"}
    assert {d.spec.cli_name for d in late} == daily | others
    assert {d.spec.cli_name for d in early} == others
    (snapshot,) = [d for d in early if d.spec.cli_name == "analytics-snapshot"]
    assert snapshot.as_of == datetime(2026, 11, 24, 23, 59, tzinfo=IST)  # Tuesday's
