"""Putting rows in the outbox and reading them back, for the delivery tests."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

from gstjobs.notify import files

TASK = {
    "id": "7d3c1a52-0000-4000-8000-000000000001",
    "title": "Submit reply to ASMT-10 notice",
    "priority": "Critical",
    "status": "Pending",
    "due_date": "2026-01-13T11:30:00+00:00",
}
CASE = {
    "id": "7d3c1a52-0000-4000-8000-0000000000c1",
    "case_number": "DRC-01/2025-26/014",
    "title": "Acme Traders: demand u/s 73",
}


def put(
    conn: Connection,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    template: str,
    payload: dict[str, Any],
    *,
    channel: str = "email",
    urgency: int = 0,
    created: datetime | None = None,
    key: str | None = None,
) -> int:
    """One outbox row, as a job would queue it."""
    return int(
        conn.execute(
            text(
                "INSERT INTO notifications (tenant_id, user_id, channel, template, payload, "
                "dedup_key, urgency, created_at, next_attempt_at) "
                "VALUES (:t, :u, :c, :tpl, CAST(:p AS jsonb), :k, :urg, "
                "COALESCE(:at, now()), COALESCE(:at, now())) RETURNING id"
            ),
            {
                "t": tenant_id,
                "u": user_id,
                "c": channel,
                "tpl": template,
                "p": json.dumps(payload),
                "k": key or f"test:{time.monotonic_ns()}:{uuid.uuid4().hex[:6]}",
                "urg": urgency,
                "at": created,
            },
        ).scalar_one()
    )


def breach(
    task_title: str = TASK["title"], priority: str = "Critical", task_id: str = TASK["id"]
) -> dict[str, Any]:
    """A rule notification's payload for an SLA breach (automation.actions.NOTIFY)."""
    return {
        "rule_id": "7d3c1a52-0000-4000-8000-0000000000f2",
        "rule_name": "Alert the partners on an SLA breach",
        "event_type": "sla_violation",
        "event": {
            "task_id": task_id,
            "priority": priority,
            "sla_threshold": 24,
            "actual_time": 30.5,
        },
        "task": TASK | {"id": task_id, "title": task_title, "priority": priority},
        "case": CASE,
    }


def by_id(engine: Engine) -> dict[int, Any]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, status, attempts, next_attempt_at, last_error, provider_message_id, "
                "sent_at, claim_token, urgency, channel, template FROM notifications ORDER BY id"
            )
        )
        return {r.id: r for r in rows}


def db_now(engine: Engine) -> datetime:
    with engine.connect() as conn:
        return conn.execute(text("SELECT now()")).scalar_one()  # type: ignore[no-any-return]


def folder(engine: Engine, settings: Any) -> Any:
    """The file channel's folder of this database."""
    with engine.connect() as conn:
        return files.database_folder(conn, settings)


def channel_state(engine: Engine, channel: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT * FROM delivery_channels WHERE channel = :c"), {"c": channel}
        ).one_or_none()
