"""Job health (seed, Alerting Thresholds) from job_runs, each threshold on both sides."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text

from gstjobs import ledger
from gstjobs.health.jobs import SystemHealth, system_health
from gstjobs.jobs import JOBS
from tests.conftest import AS_OF
from tests.support.automation import job_run

IST = ZoneInfo("Asia/Kolkata")
SLA = "check-sla-and-overdue"


def healthy_ledger(engine: Engine, skip: str | None = None) -> None:
    """Every job ran fine five minutes ago: nothing late, nothing slow."""
    with engine.begin() as conn:
        for spec in JOBS:
            if spec.name != skip:
                job_run(conn, spec.name, started=AS_OF - timedelta(minutes=5))


def health(engine: Engine) -> SystemHealth:
    with engine.connect() as conn:
        return system_health(conn, AS_OF, IST, JOBS)


def sla_findings(engine: Engine) -> list[tuple[str, str]]:
    return [(f.level, f.message) for f in health(engine).findings() if f.subject == "job sla-check"]


def test_a_healthy_ledger_has_no_findings(engine: Engine) -> None:
    healthy_ledger(engine)
    assert health(engine).findings() == []


@pytest.mark.parametrize(("failures", "critical"), [(2, False), (3, True)])
def test_failures_in_a_row(engine: Engine, failures: int, critical: bool) -> None:
    healthy_ledger(engine, skip=SLA)
    with engine.begin() as conn:
        for i in range(20):  # a long good record first
            job_run(conn, SLA, started=AS_OF - timedelta(days=6, minutes=15 * i))
        for i in range(failures):
            job_run(conn, SLA, status="failed", started=AS_OF - timedelta(minutes=5 + 15 * i))
    found = sla_findings(engine)
    streak = [m for lvl, m in found if lvl == "CRITICAL" and "in a row" in m]
    assert bool(streak) is critical
    if critical:
        assert streak[0].startswith("failed 3 times in a row")


def test_abandoned_runs_count_as_failures_and_skipped_runs_not_at_all(engine: Engine) -> None:
    healthy_ledger(engine, skip=SLA)
    with engine.begin() as conn:
        job_run(conn, SLA, status="failed", started=AS_OF - timedelta(minutes=50))
        job_run(conn, SLA, status="abandoned", started=AS_OF - timedelta(minutes=35))
        job_run(conn, SLA, status="skipped", started=AS_OF - timedelta(minutes=20))
        job_run(conn, SLA, status="failed", started=AS_OF - timedelta(minutes=5))
    (job,) = [j for j in health(engine).jobs if j.job == SLA]
    assert job.failure_streak == 3


@pytest.mark.parametrize(
    ("seconds", "level"),
    [(7.4, None), (7.6, "WARNING"), (9.9, "WARNING"), (10.1, "CRITICAL")],
)
def test_last_run_time_against_expected_5s(
    engine: Engine, seconds: float, level: str | None
) -> None:
    healthy_ledger(engine, skip=SLA)
    with engine.begin() as conn:
        job_run(conn, SLA, started=AS_OF - timedelta(minutes=20), seconds=60)  # older: ignored
        job_run(conn, SLA, started=AS_OF - timedelta(minutes=5), seconds=seconds)
    timing = [lvl for lvl, m in sla_findings(engine) if "last run took" in m]
    assert timing == ([level] if level else [])


@pytest.mark.parametrize(("hours_ago", "critical"), [(23, False), (25, True)])
def test_no_job_in_24_hours(engine: Engine, hours_ago: int, critical: bool) -> None:
    with engine.begin() as conn:
        job_run(conn, SLA, started=AS_OF - timedelta(hours=hours_ago))
        job_run(conn, SLA, status="skipped", started=AS_OF - timedelta(minutes=5))
    silent = [f for f in health(engine).findings() if f.subject == "jobs"]
    assert bool(silent) is critical
    if critical:
        assert silent[0].level == "CRITICAL"


def _week(engine: Engine, ok: int, bad: int, results: dict[str, Any] | None = None) -> None:
    healthy_ledger(engine, skip=SLA)
    with engine.begin() as conn:
        # The odd run is oldest, so no failure streak or slow last run muddies the picture.
        for i in range(bad):
            job_run(
                conn,
                SLA,
                status="failed" if results is None else "success",
                results=results,
                started=AS_OF - timedelta(days=5, minutes=i),
            )
        for i in range(ok):
            job_run(conn, SLA, started=AS_OF - timedelta(minutes=5 + i))


@pytest.mark.parametrize(("ok", "warning"), [(9, False), (8, True)])  # 90.0% vs 88.9%
def test_success_rate_below_90_percent(engine: Engine, ok: int, warning: bool) -> None:
    _week(engine, ok, 1)
    found = [m for lvl, m in sla_findings(engine) if "success rate" in m]
    assert bool(found) is warning


@pytest.mark.parametrize(("ok", "warning"), [(9, False), (8, True)])  # 10.0% vs 11.1%
def test_errors_in_over_10_percent_of_runs(engine: Engine, ok: int, warning: bool) -> None:
    _week(engine, ok, 1, results={"rulesFailed": 2, "rulesTriggered": 5})
    found = sla_findings(engine)
    assert [m for _, m in found if "success rate" in m] == []  # every run succeeded
    assert bool([m for _, m in found if m.startswith("errors in")]) is warning


def test_runs_older_than_7_days_do_not_count(engine: Engine) -> None:
    healthy_ledger(engine, skip=SLA)
    with engine.begin() as conn:
        for i in range(5):
            job_run(conn, SLA, status="failed", started=AS_OF - timedelta(days=8, minutes=i))
        job_run(conn, SLA, started=AS_OF - timedelta(minutes=5))
    assert sla_findings(engine) == []


@pytest.mark.parametrize(("minutes_ago", "late"), [(5, False), (30, True)])
def test_late_against_schedule(engine: Engine, minutes_ago: int, late: bool) -> None:
    healthy_ledger(engine, skip=SLA)
    with engine.begin() as conn:
        job_run(conn, SLA, started=AS_OF - timedelta(minutes=minutes_ago))
    assert bool([m for _, m in sla_findings(engine) if "late" in m]) is late


def test_a_job_that_never_ran_is_a_warning(engine: Engine) -> None:
    healthy_ledger(engine, skip="analytics-snapshot")
    found = [(f.level, f.message) for f in health(engine).findings()]
    assert found == [("WARNING", "has never run")]


@pytest.mark.parametrize(("minutes", "critical"), [(59, False), (61, True)])
def test_notifications_due_over_an_hour(engine: Engine, minutes: int, critical: bool) -> None:
    healthy_ledger(engine)
    with engine.begin() as conn:
        for status, age, due_in in (
            ("pending", minutes, 0),
            ("sent", 600, 0),
            ("failed", 600, 0),
            # queued ten hours ago at 21:00, held by quiet hours until 08:00: not due yet
            ("pending", 600, 10),
        ):
            conn.execute(
                text(
                    "INSERT INTO notifications (tenant_id, user_id, channel, template, dedup_key, "
                    "status, created_at, next_attempt_at) VALUES (gen_random_uuid(), "
                    "gen_random_uuid(), 'email', 't', gen_random_uuid()::text, :s, :at, :due)"
                ),
                {
                    "s": status,
                    "at": AS_OF - timedelta(minutes=age),
                    "due": AS_OF - timedelta(minutes=age) + timedelta(hours=due_in),
                },
            )
    h = health(engine)
    assert h.stale_notifications == (1 if critical else 0)
    assert [f.level for f in h.findings() if f.subject == "outbox"] == (
        ["CRITICAL"] if critical else []
    )


def _live_run(engine: Engine, holder: Any, started_ago: timedelta) -> int:
    """A run still going: its row, and its job's lock held by ``holder``'s session."""
    holder.execute(
        text("SELECT pg_advisory_lock(hashtext('gstjobs'), hashtext(:job))"), {"job": SLA}
    )
    pid = holder.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with engine.begin() as conn:
        return int(
            conn.execute(
                text(
                    "INSERT INTO job_runs (job_name, status, host, pid, backend_pid, started_at) "
                    "VALUES (:j, 'running', 'test-host', 1, :pid, :st) RETURNING id"
                ),
                {"j": SLA, "pid": pid, "st": AS_OF - started_ago},
            ).scalar_one()
        )


@pytest.mark.parametrize(("running_for", "critical"), [(14, False), (16, True)])
def test_a_run_still_running_past_its_max_is_critical(
    engine: Engine, running_for: int, critical: bool
) -> None:
    healthy_ledger(engine)
    with engine.connect() as holder:
        run_id = _live_run(engine, holder, timedelta(seconds=running_for))
        stuck = [m for lvl, m in sla_findings(engine) if lvl == "CRITICAL" and "running for" in m]
        with engine.connect() as conn:
            (row,) = [r for r in ledger.status(conn, AS_OF, IST, JOBS) if r.job == SLA]
    assert bool(stuck) is critical
    if critical:
        assert f"run #{run_id} has been running for 16s, over its maximum of 15s" in stuck[0]
    assert row.last_status == "running" and row.running_for_s == running_for
    assert row.over_time is critical


@pytest.mark.parametrize(("held_minutes", "warned"), [(10, False), (20, True)])
def test_runs_skipped_behind_a_run_older_than_the_interval_warn(
    engine: Engine, held_minutes: int, warned: bool
) -> None:
    """sla-check runs every 15 minutes: a skip behind a run 10 minutes old is a harmless
    overlap, one behind a run 20 minutes old lost a scheduled run."""
    healthy_ledger(engine)
    with engine.connect() as holder:
        run_id = _live_run(engine, holder, timedelta(minutes=held_minutes + 1))
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO job_runs (job_name, status, host, pid, started_at, blocked_by) "
                    "VALUES (:j, 'skipped', 'test-host', 2, :st, :by)"
                ),
                {"j": SLA, "st": AS_OF - timedelta(minutes=1), "by": run_id},
            )
        found = [m for lvl, m in sla_findings(engine) if lvl == "WARNING" and "skipped" in m]
    assert bool(found) is warned
    if warned:
        assert "longer than the schedule interval (15 min)" in found[0]
