"""Migrations: idempotent, safe concurrently, and able to sit on an existing database."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from gstjobs import migrate
from gstjobs.config import load_settings
from gstjobs.jobs import JOBS
from tests.conftest import clean_env, url_text
from tests.support.jobs import run_job


def test_upgrade_from_empty_then_again_is_a_no_op(empty_db_url: URL) -> None:
    engine = create_engine(empty_db_url, poolclass=NullPool)
    applied = migrate.upgrade(engine)
    assert [m.version for m in applied] == [m.version for m in migrate.available()]
    assert migrate.upgrade(engine) == []
    with engine.connect() as conn:
        assert migrate.pending(conn) == []
        tables = set(
            conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            ).scalars()
        )
    engine.dispose()
    assert {
        "audit_log",
        "automation_logs",
        "analytics_snapshots",
        "tenants",
        "users",
        "courts",
        "cases",
        "hearings",
        "tasks",
        "documents",
        "sla_policies",
        "automation_rules",
        "job_runs",
        "automation_events",
        "notifications",
    } <= tables


def test_concurrent_upgrades_apply_each_migration_once(empty_db_url: URL) -> None:
    results: list[Any] = []

    def upgrade() -> None:
        engine = create_engine(empty_db_url, poolclass=NullPool)
        try:
            results.append(migrate.upgrade(engine))
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            results.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=upgrade) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(isinstance(r, Exception) for r in results), results
    applied = [m.version for r in results for m in r]
    assert sorted(applied) == [m.version for m in migrate.available()]


CONTRACT_ONLY_SCHEMA = """
CREATE TABLE tenants (id uuid PRIMARY KEY, name text, timezone text DEFAULT 'Asia/Kolkata');
CREATE TABLE users (id uuid PRIMARY KEY, tenant_id uuid NOT NULL, full_name text, email text,
    phone text, role text, whatsapp_opt_in bool, is_active bool);
CREATE TABLE courts (id uuid PRIMARY KEY, name text, city text);
CREATE TABLE cases (id uuid PRIMARY KEY, tenant_id uuid NOT NULL, case_number text, title text,
    status text, owner_id uuid, assigned_to uuid);
CREATE TABLE hearings (id uuid PRIMARY KEY, tenant_id uuid NOT NULL, case_id uuid,
    court_id uuid, hearing_date timestamptz, status text);
CREATE TABLE tasks (id uuid PRIMARY KEY, tenant_id uuid NOT NULL, case_id uuid, title text,
    priority text, status text, assigned_to uuid, due_date timestamptz, created_at timestamptz,
    completed_at timestamptz);
CREATE TABLE documents (id uuid PRIMARY KEY, tenant_id uuid NOT NULL, case_id uuid,
    uploaded_at timestamptz);
CREATE TABLE sla_policies (tenant_id uuid, priority text, resolution_hours int);
CREATE TABLE automation_rules (id uuid PRIMARY KEY, tenant_id uuid NOT NULL, name text,
    trigger_event text, conditions jsonb, actions jsonb, is_active bool);
INSERT INTO tenants VALUES ('00000000-0000-0000-0000-0000000000aa', 'Existing', 'Asia/Kolkata');
INSERT INTO users VALUES ('00000000-0000-0000-0000-0000000000a1',
    '00000000-0000-0000-0000-0000000000aa', 'Old Advocate', 'old@example.in', NULL, 'advocate',
    false, true);
INSERT INTO courts VALUES ('00000000-0000-0000-0000-0000000000c1', 'GSTAT', 'Mumbai');
INSERT INTO cases VALUES ('00000000-0000-0000-0000-0000000000ca',
    '00000000-0000-0000-0000-0000000000aa', 'DRC-01/2024/7', 'SCN u/s 73', 'Active',
    '00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-0000000000a1');
INSERT INTO hearings VALUES ('00000000-0000-0000-0000-0000000000e1',
    '00000000-0000-0000-0000-0000000000aa', '00000000-0000-0000-0000-0000000000ca',
    '00000000-0000-0000-0000-0000000000c1', now() + interval '20 hours', 'Scheduled');
INSERT INTO tasks VALUES ('00000000-0000-0000-0000-0000000000bb',
    '00000000-0000-0000-0000-0000000000aa', '00000000-0000-0000-0000-0000000000ca',
    'Reply to DRC-01', 'High', 'Pending', '00000000-0000-0000-0000-0000000000a1',
    now() - interval '2 days', now() - interval '9 days', NULL);
INSERT INTO documents VALUES ('00000000-0000-0000-0000-0000000000d1',
    '00000000-0000-0000-0000-0000000000aa', '00000000-0000-0000-0000-0000000000ca', now());
INSERT INTO automation_rules VALUES ('00000000-0000-0000-0000-0000000000f1',
    '00000000-0000-0000-0000-0000000000aa', 'Tell the assignee', 'task_overdue', '{}',
    '[{"type": "notify", "recipient": "assignee"}]', true);
"""


def test_sits_on_an_existing_litigation_database(empty_db_url: URL, tmp_path: Path) -> None:
    """Domain tables that exist already, with only the contract's columns, are kept and
    every job runs on them."""
    engine = create_engine(empty_db_url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.connection.driver_connection.execute(CONTRACT_ONLY_SCHEMA)  # type: ignore[union-attr]
    migrate.upgrade(engine)
    settings = load_settings(
        clean_env({"DATABASE_URL": url_text(empty_db_url), "GSTJOBS_DATA_DIR": str(tmp_path)})
    )
    outcomes = {spec.cli_name: run_job(settings, spec.cli_name) for spec in JOBS}
    failed = {name: o.error for name, o in outcomes.items() if o.status != "success"}
    assert failed == {}
    assert outcomes["sla-check"].results["overdueTasks"] == 1
    assert outcomes["sla-check"].results["rulesTriggered"] == 1
    assert outcomes["hearing-reminders"].results["hearingsFound"] == 1
    with engine.connect() as conn:
        row = conn.execute(text("SELECT title, is_overdue FROM tasks")).one()
        with pytest.raises(Exception, match="tasks_status_check"):
            conn.execute(text("UPDATE tasks SET status = 'Done'"))
    engine.dispose()
    assert (row.title, row.is_overdue) == ("Reply to DRC-01", True)


def test_a_legacy_value_never_blocks_an_update(
    empty_db_url: URL, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A row holding a value outside the contract's (a task priority 'Urgent'): after the
    upgrade the litigation system can still update it, and sla-check still flags it
    with the rest of its practice (a NOT VALID check made both fail). The checks the
    rows meet stay enforced."""
    engine = create_engine(empty_db_url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.connection.driver_connection.execute(CONTRACT_ONLY_SCHEMA)  # type: ignore[union-attr]
        conn.execute(
            text(
                "INSERT INTO tasks VALUES ('00000000-0000-0000-0000-0000000000b2', "
                "'00000000-0000-0000-0000-0000000000aa', '00000000-0000-0000-0000-0000000000ca', "
                "'Legacy urgent reply', 'Urgent', 'Pending', NULL, now() - interval '3 days', "
                "now() - interval '9 days', NULL)"
            )
        )
    with caplog.at_level("WARNING", logger="gstjobs.migrate"):
        migrate.upgrade(engine)
    told = [r.getMessage() for r in caplog.records if r.name == "gstjobs.migrate"]
    assert told == [
        "tasks holds rows outside tasks_priority_check: the check is dropped, not enforced"
    ]
    settings = load_settings(
        clean_env({"DATABASE_URL": url_text(empty_db_url), "GSTJOBS_DATA_DIR": str(tmp_path)})
    )
    outcome = run_job(settings, "sla-check")
    assert outcome.status == "success", outcome.error
    assert outcome.results["overdueTasks"] == 2
    with engine.begin() as conn:
        conn.execute(text("UPDATE tasks SET title = 'Legacy urgent reply (filed)'"))
        checks = dict(
            conn.execute(
                text(
                    "SELECT conname, convalidated FROM pg_constraint "
                    "WHERE conrelid = 'tasks'::regclass AND contype = 'c'"
                )
            ).all()
        )
    assert "tasks_priority_check" not in checks
    assert checks["tasks_status_check"] is True
    with engine.connect() as conn, pytest.raises(Exception, match="tasks_status_check"):
        conn.execute(text("UPDATE tasks SET status = 'Done'"))
    engine.dispose()


def test_failed_migration_rolls_back_and_is_not_recorded(empty_db_url: URL) -> None:
    engine = create_engine(empty_db_url, poolclass=NullPool)
    broken = migrate.Migration("999", "broken", "CREATE TABLE half_done (id int); SELECT 1/0;")
    with engine.connect() as conn:
        conn.execute(migrate.LEDGER_SQL)
        conn.commit()
    try:
        migrate._apply(engine, broken)
    except Exception as exc:
        assert "999_broken.sql failed" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("a broken migration must raise")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT to_regclass('half_done')")).scalar() is None
        assert (
            conn.execute(
                text("SELECT count(*) FROM gstjobs_migrations WHERE version = '999'")
            ).scalar_one()
            == 0
        )
    engine.dispose()


@pytest.mark.parametrize(
    ("zone", "ok"),
    [
        ("Asia/Kolkata", True),
        ("Asia/Calcutta", True),
        ("Europe/London", True),
        ("America/Argentina/Buenos_Aires", True),
        ("UTC", True),
        ("Mars/Olympus", False),
        ("America/Foo_Bar", False),
        ("IST", False),  # PostgreSQL would read it as Israel
        ("+05:30", False),  # and this as UTC-05:30
        ("", False),
        (None, False),
    ],
)
def test_a_practice_time_zone_is_checked_by_postgresql_itself(
    engine: Any, zone: str | None, ok: bool
) -> None:
    with engine.begin() as conn:
        assert conn.execute(text("SELECT gstjobs_timezone_ok(:tz)"), {"tz": zone}).scalar() is ok
        if zone is not None and not ok:
            with pytest.raises(Exception, match="not an IANA time zone"), conn.begin_nested():
                conn.execute(
                    text("INSERT INTO tenants (name, timezone) VALUES ('x', :tz)"), {"tz": zone}
                )
