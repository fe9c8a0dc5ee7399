"""Builders for the rules engine and health tests: events, log rows, job runs."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, text

from gstjobs.automation import engine as rules_engine
from gstjobs.config import Settings
from gstjobs.core import JobContext, Tenant


def event(
    conn: Connection,
    tenant_id: uuid.UUID,
    event_type: str,
    entity_id: uuid.UUID,
    payload: dict[str, Any],
    *,
    entity_type: str = "task",
    occurred_at: datetime,
) -> int:
    """A pending automation event, as the jobs emit them."""
    return int(
        conn.execute(
            text(
                "INSERT INTO automation_events (tenant_id, event_type, entity_type, entity_id, "
                "dedup_key, payload, occurred_at) VALUES (:t, :et, :ent, :eid, :k, "
                "CAST(:p AS jsonb), :at) RETURNING id"
            ),
            {
                "t": tenant_id,
                "et": event_type,
                "ent": entity_type,
                "eid": entity_id,
                "k": uuid.uuid4().hex,
                "p": json.dumps(payload),
                "at": occurred_at,
            },
        ).scalar_one()
    )


def context(conn: Connection, settings: Settings, as_of: datetime, run_id: int = 0) -> JobContext:
    tenants = tuple(
        Tenant(r.id, r.timezone)
        for r in conn.execute(text("SELECT id, timezone FROM tenants ORDER BY id"))
    )
    return JobContext(run_id, as_of, tenants, False, settings)


def process(engine: Engine, settings: Settings, as_of: datetime) -> rules_engine.Fired:
    """One committed pass of the engine over every tenant."""
    with engine.begin() as conn:
        return rules_engine.process_pending(conn, context(conn, settings, as_of))


def rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).fetchall()


def logs(
    conn: Connection,
    tenant_id: uuid.UUID,
    rule_id: uuid.UUID | None,
    *,
    at: datetime,
    success: int = 0,
    failed: int = 0,
    rule_name: str = "Test rule",
) -> None:
    """``success`` + ``failed`` automation_logs rows for a rule, all at ``at``."""
    conn.execute(
        text(
            "INSERT INTO automation_logs (tenant_id, rule_id, rule_name, trigger_event, status, "
            "actions_executed, executed_at) "
            "SELECT :t, :r, :n, 'task_overdue', CASE WHEN g <= :s THEN 'success' ELSE 'failed' "
            "END, '[]'::jsonb, :at FROM generate_series(1, :total) g"
        ),
        {
            "t": tenant_id,
            "r": rule_id,
            "n": rule_name,
            "s": success,
            "total": success + failed,
            "at": at,
        },
    )


def rule_created(conn: Connection, rule_id: uuid.UUID, at: datetime) -> None:
    conn.execute(
        text("UPDATE automation_rules SET created_at = :at WHERE id = :id"),
        {"at": at, "id": rule_id},
    )


def job_run(
    conn: Connection,
    job: str,
    *,
    started: datetime,
    status: str = "success",
    seconds: float = 1.0,
    results: dict[str, Any] | None = None,
) -> None:
    """A finished run in the ledger, as the runner records it."""
    conn.execute(
        text(
            "INSERT INTO job_runs (job_name, status, host, pid, started_at, finished_at, "
            "duration_ms, results) VALUES (:j, :s, 'test-host', 1, :st, :fin, :ms, "
            "CAST(:r AS jsonb))"
        ),
        {
            "j": job,
            "s": status,
            "st": started,
            "fin": started + timedelta(seconds=seconds),
            "ms": int(seconds * 1000),
            "r": json.dumps(results or {}),
        },
    )
