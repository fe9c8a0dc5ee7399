"""Backfilling a range on a real PostgreSQL: each day as it stood, one run, in order."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, Engine, text

from gstjobs import runner
from gstjobs.analytics.metrics import measure, point
from gstjobs.config import Settings
from gstjobs.db import resolve
from gstjobs.jobs import analytics_snapshot
from gstjobs.sla import DEFAULT_SLA_HOURS
from tests.integration.test_analytics_snapshot import AS_OF as NIGHTLY
from tests.integration.test_analytics_snapshot import crafted
from tests.support import factory
from tests.support.jobs import run_job

IST = ZoneInfo("Asia/Kolkata")
D = timedelta(days=1)


@pytest.fixture
def first_day(engine: Engine) -> date:
    """Ten IST days before the database's today: a past the backfill may fill."""
    with engine.connect() as conn:
        now = conn.execute(text("SELECT now()")).scalar_one()
    return now.astimezone(IST).date() - 10 * D


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=IST)


def document(conn: Connection, tenant_id: UUID, uploaded_at: datetime, n: int = 1) -> None:
    conn.execute(
        text(
            "INSERT INTO documents (tenant_id, uploaded_at) "
            "SELECT :t, :at FROM generate_series(1, :n)"
        ),
        {"t": tenant_id, "at": uploaded_at, "n": n},
    )


def do_backfill(
    settings: Settings, first: date, last: date, tenants: tuple[UUID, ...] = ()
) -> runner.RunOutcome:
    return runner.execute(
        analytics_snapshot.spec_for(first, last),
        settings,
        resolve(settings),
        runner.RunRequest(tenants=tenants, trigger="manual"),
    )


def series(engine: Engine, tenant_id: UUID) -> dict[date, dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT snapshot_date, metric_value FROM analytics_snapshots "
                "WHERE tenant_id = :t AND metric_type = 'daily_snapshot'"
            ),
            {"t": tenant_id},
        )
        return {r.snapshot_date: r.metric_value for r in rows}


def test_each_day_as_it_stood(engine: Engine, settings: Settings, first_day: date) -> None:
    b1, b2, b3, b4 = (first_day + n * D for n in range(4))
    with engine.begin() as conn:
        t = factory.tenant(conn)
        closing = factory.case(conn, t, created_at=at(b1, 9) - 5 * D)
        conn.execute(
            text("UPDATE cases SET status = 'Closed', closed_at = :at WHERE id = :id"),
            {"id": closing, "at": at(b3, 12)},
        )
        factory.case(conn, t, created_at=at(b2, 12), number="B/2")
        document(conn, t, at(b1, 10))
        document(conn, t, at(b3, 10))
        factory.task(
            conn,
            t,
            created=at(b1, 9),
            due=at(b2, 12),
            status="Completed",
            completed_at=at(b4, 10),  # two days after its due date: late from b2 noon
        )
        factory.hearing(conn, t, closing, at(b2, 11), status="Attended")

    outcome = do_backfill(settings, b1, b4)
    assert outcome.status == "success", outcome.error
    assert outcome.results["snapshotsWritten"] == 4
    got = series(engine, t)
    assert sorted(got) == [b1, b2, b3, b4]

    def column(metric: str) -> list[Any]:
        return [got[d][metric] for d in (b1, b2, b3, b4)]

    assert column("case_count") == [1, 2, 1, 1]
    assert column("document_count") == [1, 1, 2, 2]
    assert column("task_completion_rate") == [0.0, 0.0, 0.0, 1.0]
    assert column("overdue_tasks") == [0, 1, 1, 0]
    assert column("sla_compliance_rate") == [None, 0.0, 0.0, 0.0]
    assert column("hearing_attendance_rate") == [None, 1.0, 1.0, 1.0]
    cutoff = at(b4, 23, 59).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert got[b4]["as_of"] == cutoff

    # The nightly run of the last day, at its scheduled moment, agrees and changes nothing.
    nightly = run_job(settings, "analytics-snapshot", as_of=at(b4, 23, 59))
    assert nightly.results["snapshotsUnchanged"] == 1


def test_one_run_record_names_the_range(
    engine: Engine, settings: Settings, first_day: date
) -> None:
    with engine.begin() as conn:
        factory.tenant(conn)
        factory.tenant(conn, "Second Practice")
    outcome = do_backfill(settings, first_day, first_day + 2 * D)
    with engine.connect() as conn:
        runs = conn.execute(
            text("SELECT id, status, results, as_of FROM job_runs WHERE job_name = :j"),
            {"j": "analytics-snapshot"},
        ).fetchall()
        audit = conn.execute(
            text(
                "SELECT details FROM audit_log WHERE action_type = 'background_job_execution' "
                "AND details->>'job_name' = 'analytics-snapshot'"
            )
        ).fetchall()
    (run,) = runs
    assert run.id == outcome.run_id and run.status == "success"
    assert run.results["fromDate"] == first_day.isoformat()
    assert run.results["toDate"] == (first_day + 2 * D).isoformat()
    assert run.results["days"] == 3
    assert run.results["tenants"] == 2
    assert run.results["snapshotsWritten"] == 6
    # The run itself happened now: its as_of is the clock, not a past date.
    assert run.as_of.astimezone(IST).date() > first_day + 2 * D
    (details,) = audit
    assert details.details["days"] == 3


def test_anomalies_are_judged_against_the_backfilled_days_before(
    engine: Engine, settings: Settings, first_day: date
) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        document(conn, t, at(first_day, 9) - 10 * D, n=100)
        document(conn, t, at(first_day + 3 * D, 9), n=50)
    outcome = do_backfill(settings, first_day, first_day + 3 * D)
    got = series(engine, t)
    assert [got[first_day + n * D]["anomaly_detected"] for n in range(4)] == [
        False,
        False,
        False,
        True,
    ]
    assert got[first_day + 3 * D]["anomalies"] == [
        {"metric": "document_count", "value": 150, "average": 100.0, "deviation": 0.5}
    ]
    assert outcome.results["anomaliesDetected"] == 1


def test_a_tenant_that_fails_rolls_back_alone(
    engine: Engine, settings: Settings, first_day: date
) -> None:
    with engine.begin() as conn:
        good = factory.tenant(conn)
        bad = factory.tenant(conn, "Misconfigured", timezone="Mars/Olympus_Mons")
    outcome = do_backfill(settings, first_day, first_day + D)
    assert outcome.status == "failed"
    assert outcome.failed_tenants == (bad,)
    assert sorted(series(engine, good)) == [first_day, first_day + D]
    assert series(engine, bad) == {}


def test_a_range_measures_each_day_as_a_single_day_would(engine: Engine) -> None:
    """The running-sum path (a range) and the plain-count path (one day) agree."""
    with engine.begin() as conn:
        t = crafted(conn)
        days = [NIGHTLY.astimezone(IST).date() + n * D for n in range(-12, 3)]
        points = [point(t, "Asia/Kolkata", d, at(d, 23, 59)) for d in days]
        together = measure(conn, [t], points, DEFAULT_SLA_HOURS)
        apart = [measure(conn, [t], [p], DEFAULT_SLA_HOURS)[0] for p in points]
    assert together == apart
    assert len({counts for _, counts in together}) > 5  # the days do differ
