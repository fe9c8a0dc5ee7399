"""Migrations: idempotent, safe concurrently, and able to sit on an existing database."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from gstjobs import migrate


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


def test_sits_on_an_existing_litigation_database(empty_db_url: URL) -> None:
    """Domain tables that exist already (with only the contract's columns) are kept."""
    engine = create_engine(empty_db_url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(
            text("""
            CREATE TABLE tenants (id uuid PRIMARY KEY, name text,
                                  timezone text DEFAULT 'Asia/Kolkata');
            CREATE TABLE tasks (id uuid PRIMARY KEY, tenant_id uuid NOT NULL, case_id uuid,
                title text, priority text, status text, assigned_to uuid,
                due_date timestamptz, created_at timestamptz DEFAULT now(),
                completed_at timestamptz);
            INSERT INTO tenants
            VALUES ('00000000-0000-0000-0000-0000000000aa', 'Existing', 'Asia/Kolkata');
            INSERT INTO tasks (id, tenant_id, title, priority, status, due_date)
            VALUES ('00000000-0000-0000-0000-0000000000bb', '00000000-0000-0000-0000-0000000000aa',
                    'Reply to DRC-01', 'High', 'Pending', now() - interval '2 days');
        """)
        )
    migrate.upgrade(engine)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT title, is_overdue, sla_breached FROM tasks")).one()
    engine.dispose()
    assert row.title == "Reply to DRC-01"
    assert (row.is_overdue, row.sla_breached) == (False, False)


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
