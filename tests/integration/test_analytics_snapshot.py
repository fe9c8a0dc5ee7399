"""The analytics snapshot on a real PostgreSQL: each metric on crafted data, re-runs,
tenant-local dates, anomalies against stored history, one pass for all tenants."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import Connection, Engine, event, text

from gstjobs.analytics import snapshot
from gstjobs.config import Settings
from gstjobs.core import Tenant
from gstjobs.jobs.analytics_snapshot import points_at
from gstjobs.sla import DEFAULT_SLA_HOURS
from tests.support import factory
from tests.support.jobs import run_job

DAY = date(2026, 1, 15)
AS_OF = datetime(2026, 1, 15, 18, 29, tzinfo=UTC)  # 23:59 IST, the nightly moment
D = timedelta(days=1)
H = timedelta(hours=1)


def document(conn: Connection, tenant_id: UUID, uploaded_at: datetime, n: int = 1) -> None:
    conn.execute(
        text(
            "INSERT INTO documents (tenant_id, uploaded_at) "
            "SELECT :t, :at FROM generate_series(1, :n)"
        ),
        {"t": tenant_id, "at": uploaded_at, "n": n},
    )


def close_case(conn: Connection, case_id: UUID, closed_at: datetime | None) -> None:
    conn.execute(
        text("UPDATE cases SET status = 'Closed', closed_at = :at WHERE id = :id"),
        {"id": case_id, "at": closed_at},
    )


def snapshots(engine: Engine, tenant_id: UUID) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT snapshot_date, metric_value, created_at FROM analytics_snapshots "
                "WHERE tenant_id = :t AND metric_type = 'daily_snapshot' ORDER BY snapshot_date"
            ),
            {"t": tenant_id},
        ).fetchall()


def seed_history(engine: Engine, tenant_id: UUID, values: dict[date, dict[str, Any]]) -> None:
    with engine.begin() as conn:
        for day, value in values.items():
            conn.execute(
                text(
                    "INSERT INTO analytics_snapshots (tenant_id, metric_type, snapshot_date, "
                    "metric_value) VALUES (:t, 'daily_snapshot', :d, CAST(:v AS jsonb))"
                ),
                {"t": tenant_id, "d": day, "v": json.dumps(value)},
            )


def crafted(conn: Connection) -> UUID:
    """One tenant whose every metric has a known answer at AS_OF (see each comment)."""
    t = factory.tenant(conn)
    conn.execute(
        text(
            "INSERT INTO sla_policies (tenant_id, priority, resolution_hours) "
            "VALUES (:t, 'Critical', 10)"
        ),
        {"t": t},
    )
    # Cases: active = c1, c4 (closed only after the cutoff), c6 (status Active) -> 3.
    factory.case(conn, t, created_at=AS_OF - 10 * D)  # c1
    factory.case(conn, t, created_at=AS_OF + H)  # c2: created after the cutoff
    close_case(conn, factory.case(conn, t, created_at=AS_OF - 10 * D), AS_OF - 2 * D)  # c3
    close_case(conn, factory.case(conn, t, created_at=AS_OF - 10 * D), AS_OF + H)  # c4
    close_case(conn, factory.case(conn, t, created_at=AS_OF - 10 * D), None)  # c5: no closed_at
    c6 = factory.case(conn, t, created_at=AS_OF - 10 * D)  # reopened: Active, stale closed_at
    conn.execute(
        text("UPDATE cases SET closed_at = :at WHERE id = :id"), {"id": c6, "at": AS_OF - D}
    )

    old = AS_OF - 10 * D
    task = factory.task
    # tasks (non-cancelled, created by cutoff): t1 t2 t3 t4 t5 t8 t9 t10 t11 t12 t13 = 11
    # completed by cutoff: t1 t2 t5 t10 t11 t13 = 6            -> 6/11
    # SLA (judged by the due date; without one, the priority's hours after creation):
    # settled t1 t2 t3 t5 t8 t9 t10 t11 t13 = 9; on time t1 t5 t10 t11 t13 = 5 -> 5/9
    # (by hours from creation alone it would be 4/9: t12 and t13 "breached" at 10 hours)
    # overdue: t3 (due D-3, open), t8 (due D-1, completed only after the cutoff) = 2
    task(conn, t, created=old, due=old + 2 * D, status="Completed", completed_at=old + D)  # t1
    task(conn, t, created=old, due=old + 2 * D, status="Completed", completed_at=old + 5 * D)  # t2
    task(conn, t, created=old, due=AS_OF - 3 * D)  # t3
    task(conn, t, created=AS_OF - D, due=AS_OF + 2 * D)  # t4
    task(
        conn, t, created=AS_OF - D, due=AS_OF + D, status="Completed", completed_at=AS_OF - H
    )  # t5
    task(conn, t, created=old, due=AS_OF - 3 * D, status="Cancelled")  # t6: counts nowhere
    task(conn, t, created=AS_OF + H, due=AS_OF - D)  # t7: created after the cutoff
    task(
        conn, t, created=AS_OF - 2 * D, due=AS_OF - D, status="Completed", completed_at=AS_OF + H
    )  # t8
    task(conn, t, created=AS_OF - 20 * H, due=None, priority="Critical")  # t9: 10 h policy breached
    task(conn, t, created=AS_OF - 3 * D, due=AS_OF - D, status="Completed")  # t10: no completed_at
    task(conn, t, created=old, due=None, status="Completed", completed_at=old + 71 * H)  # t11
    # Critical replies due in weeks: open before their due date, or done well before it.
    task(conn, t, created=AS_OF - 5 * D, due=AS_OF + 10 * D, priority="Critical")  # t12
    task(
        conn,
        t,
        created=old,
        due=AS_OF + 10 * D,
        priority="Critical",
        status="Completed",
        completed_at=old + 3 * D,
    )  # t13

    # Hearings in the 30 IST days ending DAY (from 2025-12-17 00:00 IST): Attended 2, Missed 1.
    case = factory.case(conn, t, created_at=old - 60 * D, number="H/1")
    ist_start = datetime(2025, 12, 16, 18, 30, tzinfo=UTC)  # 2025-12-17 00:00 IST
    for when, status in [
        (AS_OF - 2 * D, "Attended"),
        (ist_start + timedelta(minutes=30), "Attended"),  # first day of the window
        (ist_start - timedelta(minutes=30), "Attended"),  # the day before: outside
        (AS_OF - 5 * D, "Missed"),
        (AS_OF - 3 * D, "Adjourned"),
        (AS_OF - D, "Scheduled"),  # outcome never recorded: outside the denominator
        (AS_OF - 4 * D, "Cancelled"),
        (AS_OF + H, "Attended"),  # after the cutoff
    ]:
        factory.hearing(conn, t, case, when, status=status)
    # H/1 is an active case too: case_count 4.

    document(conn, t, AS_OF - 5 * D)
    document(conn, t, AS_OF - timedelta(minutes=1))
    document(conn, t, AS_OF + timedelta(minutes=1))  # after the cutoff
    return t


EXPECTED = {
    "case_count": 4,
    "task_completion_rate": 0.5455,
    "sla_compliance_rate": 0.5556,
    "hearing_attendance_rate": 0.6667,
    "document_count": 2,
    "overdue_tasks": 2,
    "anomaly_detected": False,
    "anomalies": [],
}


def test_each_metric_on_crafted_data(engine: Engine, settings: Settings) -> None:
    with engine.begin() as conn:
        t = crafted(conn)
    outcome = run_job(settings, "analytics-snapshot", as_of=AS_OF)
    assert outcome.status == "success", outcome.error
    assert outcome.results["snapshotsWritten"] == 1
    assert outcome.results["anomaliesDetected"] == 0
    (row,) = snapshots(engine, t)
    assert row.snapshot_date == DAY
    value = row.metric_value
    assert {k: value[k] for k in EXPECTED} == EXPECTED
    assert value["counts"] == {
        "active_cases": 4,
        "tasks": 11,
        "tasks_completed": 6,
        "sla_settled": 9,
        "sla_on_time": 5,
        "hearings_attended": 2,
        "hearings_missed": 1,
        "documents": 2,
        "overdue_tasks": 2,
    }
    assert value["as_of"] == "2026-01-15T18:29:00Z"


def test_tenants_are_measured_apart(engine: Engine, settings: Settings) -> None:
    with engine.begin() as conn:
        busy = crafted(conn)
        idle = factory.tenant(conn, "Idle Practice")
    outcome = run_job(settings, "analytics-snapshot", as_of=AS_OF)
    assert outcome.results["tenants"] == 2
    assert outcome.results["snapshotsWritten"] == 2
    (row,) = snapshots(engine, idle)
    assert {k: row.metric_value[k] for k in EXPECTED} == {
        "case_count": 0,
        "task_completion_rate": None,
        "sla_compliance_rate": None,
        "hearing_attendance_rate": None,
        "document_count": 0,
        "overdue_tasks": 0,
        "anomaly_detected": False,
        "anomalies": [],
    }
    assert snapshots(engine, busy)[0].metric_value["document_count"] == 2


def test_rerun_replaces_the_days_row(engine: Engine, settings: Settings) -> None:
    with engine.begin() as conn:
        t = crafted(conn)
    run_job(settings, "analytics-snapshot", as_of=AS_OF)
    (first,) = snapshots(engine, t)

    same = run_job(settings, "analytics-snapshot", as_of=AS_OF)
    assert same.results["snapshotsWritten"] == 0
    assert same.results["snapshotsUnchanged"] == 1
    assert snapshots(engine, t) == [first]  # untouched, created_at included

    with engine.begin() as conn:
        document(conn, t, AS_OF - H, n=3)
    later = run_job(settings, "analytics-snapshot", as_of=AS_OF + timedelta(seconds=30))
    assert later.results["snapshotsWritten"] == 1
    assert later.results["snapshotsReplaced"] == 1
    (row,) = snapshots(engine, t)
    assert row.snapshot_date == DAY
    assert row.metric_value["document_count"] == 5


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (datetime(2026, 1, 15, 18, 29, tzinfo=UTC), date(2026, 1, 15)),  # 23:59 IST
        (datetime(2026, 1, 15, 19, 0, tzinfo=UTC), date(2026, 1, 16)),  # 00:30 IST
    ],
)
def test_snapshot_date_is_the_tenant_local_date(
    engine: Engine, settings: Settings, as_of: datetime, expected: date
) -> None:
    with engine.begin() as conn:
        ist = factory.tenant(conn)
        london = factory.tenant(conn, "London Chambers", timezone="Europe/London")
    run_job(settings, "analytics-snapshot", as_of=as_of)
    assert [r.snapshot_date for r in snapshots(engine, ist)] == [expected]
    assert [r.snapshot_date for r in snapshots(engine, london)] == [date(2026, 1, 15)]


@pytest.mark.parametrize(("uploads", "flagged"), [(129, False), (131, True)])
def test_anomaly_at_29_and_31_percent(
    engine: Engine, settings: Settings, uploads: int, flagged: bool
) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        document(conn, t, AS_OF - 20 * D, n=uploads)
    seed_history(
        engine, t, {DAY - n * D: {"document_count": c} for n, c in [(1, 110), (2, 100), (5, 90)]}
    )
    outcome = run_job(settings, "analytics-snapshot", as_of=AS_OF)
    value = snapshots(engine, t)[-1].metric_value
    assert value["anomaly_detected"] is flagged
    assert outcome.results["anomaliesDetected"] == int(flagged)
    if flagged:
        assert value["anomalies"] == [
            {"metric": "document_count", "value": 131, "average": 100.0, "deviation": 0.31}
        ]
    else:
        assert value["anomalies"] == []


def test_fewer_than_three_prior_days_in_the_week_is_no_anomaly(
    engine: Engine, settings: Settings
) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        document(conn, t, AS_OF - 20 * D, n=500)
    # Three prior snapshots, but D-8 is outside the 7-day window: only two count.
    seed_history(engine, t, {DAY - n * D: {"document_count": 100} for n in (1, 7, 8)})
    run_job(settings, "analytics-snapshot", as_of=AS_OF)
    assert snapshots(engine, t)[-1].metric_value["anomaly_detected"] is False

    seed_history(engine, t, {DAY - 3 * D: {"document_count": 100}})
    run_job(settings, "analytics-snapshot", as_of=AS_OF)
    (anomaly,) = snapshots(engine, t)[-1].metric_value["anomalies"]
    assert anomaly["metric"] == "document_count"
    assert anomaly["deviation"] == 4.0


def test_dry_run_writes_nothing(engine: Engine, settings: Settings) -> None:
    with engine.begin() as conn:
        t = crafted(conn)
    outcome = run_job(settings, "analytics-snapshot", as_of=AS_OF, dry_run=True)
    assert outcome.results["snapshotsWritten"] == 1
    assert snapshots(engine, t) == []


def test_statements_do_not_grow_with_tenants_or_days(engine: Engine) -> None:
    with engine.begin() as conn:
        tenants = [Tenant(crafted(conn), "Asia/Kolkata") for _ in range(5)]
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    def take(tenant_list: list[Tenant], days: int) -> int:
        statements.clear()
        with engine.begin() as conn:
            event.listen(conn, "before_cursor_execute", count)
            points = [p for n in range(days) for p in points_at(tenant_list, AS_OF - n * D)]
            snapshot.take(conn, [t.id for t in tenant_list], points, DEFAULT_SLA_HOURS)
        return len(statements)

    assert take(tenants[:1], 1) == take(tenants, 1) == take(tenants, 10) == 3
