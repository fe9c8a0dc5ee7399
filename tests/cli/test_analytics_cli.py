"""``gstjobs analytics`` and ``gstjobs analytics backfill`` end to end, in a subprocess."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import Engine, text

from tests.support import factory

D = timedelta(days=1)


def today(engine: Engine) -> date:
    with engine.connect() as conn:
        day: date = conn.execute(
            text("SELECT (now() AT TIME ZONE 'Asia/Kolkata')::date")
        ).scalar_one()
    return day


def store(engine: Engine, tenant_id: UUID, day: date, **value: Any) -> None:
    base = {
        "case_count": 10,
        "task_completion_rate": 0.5,
        "sla_compliance_rate": None,
        "hearing_attendance_rate": 1.0,
        "document_count": 100,
        "overdue_tasks": 2,
        "anomaly_detected": False,
        "anomalies": [],
    }
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO analytics_snapshots (tenant_id, metric_type, snapshot_date, "
                "metric_value) VALUES (:t, 'daily_snapshot', :d, CAST(:v AS jsonb))"
            ),
            {"t": tenant_id, "d": day, "v": json.dumps(base | value)},
        )


@pytest.fixture
def practice(engine: Engine) -> UUID:
    """A practice with three days of snapshots; the last has a 31% document anomaly."""
    with engine.begin() as conn:
        t = factory.tenant(conn, "Mehta & Desai, GST Advocates")
        factory.user(conn, t, name="Anjali Secretname", email="anjali@example.in")
    day = today(engine)
    store(engine, t, day - 2 * D)
    store(engine, t, day - D, document_count=100)
    anomaly = {"metric": "document_count", "value": 131, "average": 100.0, "deviation": 0.31}
    store(engine, t, day, document_count=131, anomaly_detected=True, anomalies=[anomaly])
    return t


def test_trend_view_table(cli: Any, practice: UUID, engine: Engine) -> None:
    r = cli("analytics", "--days", "5")
    assert r.code == 0, r.stderr
    assert "Mehta & Desai, GST Advocates" in r.stdout
    assert str(practice) in r.stdout
    assert "3 snapshot(s)" in r.stdout
    line = next(ln for ln in r.stdout.splitlines() if "document_count" in ln)
    assert "  ▁▁█" in line  # two empty days, then 100, 100, 131
    assert f"{today(engine):%m-%d} 131 (+31% vs avg 100.0)" in line
    rate_line = next(ln for ln in r.stdout.splitlines() if "sla_compliance_rate" in ln)
    assert "—" in rate_line  # null every day
    assert "Anjali" not in r.stdout and "anjali@" not in r.stdout


def test_trend_view_json(cli: Any, practice: UUID, engine: Engine) -> None:
    r = cli("--json", "analytics", "--days", "4")
    assert r.code == 0, r.stderr
    doc = r.json()
    assert doc["days"] == 4
    (tenant,) = doc["tenants"]
    day = today(engine)
    assert tenant["tenantId"] == str(practice)
    assert tenant["dates"] == [(day - n * D).isoformat() for n in (3, 2, 1, 0)]
    assert tenant["snapshots"] == 3
    assert list(tenant["metrics"]) == [
        "case_count",
        "task_completion_rate",
        "sla_compliance_rate",
        "hearing_attendance_rate",
        "document_count",
        "overdue_tasks",
    ]
    docs = tenant["metrics"]["document_count"]
    assert docs["values"] == [None, 100, 100, 131]
    assert (docs["first"], docs["last"], docs["min"], docs["max"]) == (100, 131, 100, 131)
    assert docs["anomalies"] == [
        {"date": day.isoformat(), "value": 131, "average": 100.0, "deviation": 0.31}
    ]
    assert tenant["metrics"]["sla_compliance_rate"]["values"] == [None] * 4
    assert tenant["metrics"]["case_count"]["anomalies"] == []


def test_trend_view_tenant_filter(cli: Any, practice: UUID, engine: Engine) -> None:
    with engine.begin() as conn:
        other = factory.tenant(conn, "Other Practice")
    both = cli("analytics", "--json").json()
    assert {t["tenantId"] for t in both["tenants"]} == {str(practice), str(other)}
    only = cli("analytics", "--tenant", str(other), "--json").json()
    (tenant,) = only["tenants"]
    assert tenant["tenantId"] == str(other)
    assert tenant["snapshots"] == 0
    assert len(tenant["dates"]) == 14  # the default window


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--tenant", "not-a-uuid"), "--tenant 'not-a-uuid' is not a practice id"),
        (("--tenant", "3f2b8c1e-5d4a-4c7b-9e1f-2a6d8b0c4e7f"), "no tenant with id"),
        (("--days", "0"), "--days"),
    ],
)
def test_trend_view_bad_input(cli: Any, args: tuple[str, ...], message: str) -> None:
    r = cli("analytics", *args)
    assert r.code == 2
    assert r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1
    assert message in r.stderr


def test_backfill_then_view(cli: Any, engine: Engine) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn, "Backfilled Practice")
        conn.execute(
            text(
                "INSERT INTO documents (tenant_id, uploaded_at) "
                "VALUES (:t, now() - interval '20 days')"
            ),
            {"t": t},
        )
    day = today(engine)
    first, last = day - 3 * D, day - D
    r = cli(
        "analytics", "backfill", "--from", first.isoformat(), "--to", last.isoformat(), "--json"
    )
    assert r.code == 0, r.stderr
    doc = r.json()
    assert doc["success"] is True and doc["status"] == "success"
    assert doc["job"] == "analytics-snapshot"
    assert doc["results"]["snapshotsWritten"] == 3
    assert doc["results"]["fromDate"] == first.isoformat()
    assert doc["results"]["days"] == 3

    view = cli("analytics", "--days", "4", "--json").json()
    (tenant,) = view["tenants"]
    assert tenant["metrics"]["document_count"]["values"] == [1, 1, 1, None]
    assert tenant["metrics"]["task_completion_rate"]["values"] == [None, None, None, None]

    again = cli(
        "analytics", "backfill", "--from", first.isoformat(), "--to", last.isoformat(), "-v"
    )
    assert again.code == 0
    assert "snapshotsUnchanged" in again.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from", "2026-13-01", "--to", "2026-01-02"), "--from '2026-13-01' is not a date"),
        (("--from", "2026-01-05", "--to", "yesterday"), "--to 'yesterday' is not a date"),
        (("--from", "2026-01-05", "--to", "2026-01-04"), "is after --to"),
        (("--from", "2199-01-01", "--to", "2199-01-05"), "is in the future"),
        (("--to", "2026-01-05"), "--from"),
    ],
)
def test_backfill_bad_dates_exit_2_with_one_line(
    cli: Any, args: tuple[str, ...], message: str
) -> None:
    r = cli("analytics", "backfill", *args)
    assert r.code == 2
    assert r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert message in r.stderr


def test_run_analytics_snapshot_json(cli: Any, engine: Engine) -> None:
    with engine.begin() as conn:
        factory.tenant(conn)
    r = cli("run", "analytics-snapshot", "--force", "--as-of", "2026-01-15T23:59", "--json")
    assert r.code == 0, r.stderr
    doc = r.json()
    assert doc["asOf"] == "2026-01-15T18:29:00Z"
    assert {"tenants", "snapshotsWritten", "anomaliesDetected"} <= set(doc["results"])
    assert doc["results"]["toDate"] == "2026-01-15"
