"""Small builders for crafted rows, so each test states only what matters to it."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text


def tenant(
    conn: Connection, name: str = "Test Practice", timezone: str = "Asia/Kolkata"
) -> uuid.UUID:
    """A practice. A ``timezone`` PostgreSQL's trigger refuses (``IST``, ``Not/AZone``) is
    written as a row from before migration 006 would be: with triggers off for the insert."""
    tid = uuid.uuid4()
    if not conn.execute(text("SELECT gstjobs_timezone_ok(:tz)"), {"tz": timezone}).scalar():
        conn.execute(text("SET LOCAL session_replication_role = replica"))
    conn.execute(
        text("INSERT INTO tenants (id, name, timezone) VALUES (:id, :n, :tz)"),
        {"id": tid, "n": name, "tz": timezone},
    )
    conn.execute(text("SET LOCAL session_replication_role = DEFAULT"))
    return tid


def user(
    conn: Connection,
    tenant_id: uuid.UUID,
    role: str = "advocate",
    *,
    name: str = "Test User",
    email: str | None = None,
    phone: str | None = None,
    whatsapp_opt_in: bool = False,
    is_active: bool = True,
) -> uuid.UUID:
    uid = uuid.uuid4()
    conn.execute(
        text(
            "INSERT INTO users (id, tenant_id, full_name, email, phone, role, whatsapp_opt_in, "
            "is_active) VALUES (:id, :t, :n, :e, :p, :r, :w, :a)"
        ),
        {
            "id": uid,
            "t": tenant_id,
            "n": name,
            "e": email or f"{uid.hex[:8]}@example.in",
            "p": phone,
            "r": role,
            "w": whatsapp_opt_in,
            "a": is_active,
        },
    )
    return uid


def court(
    conn: Connection, name: str = "GST Appellate Tribunal, State Bench", city: str = "Ahmedabad"
) -> uuid.UUID:
    cid = uuid.uuid4()
    conn.execute(
        text("INSERT INTO courts (id, name, city) VALUES (:id, :n, :c)"),
        {"id": cid, "n": name, "c": city},
    )
    return cid


def case(
    conn: Connection,
    tenant_id: uuid.UUID,
    *,
    owner: uuid.UUID | None = None,
    assigned_to: uuid.UUID | None = None,
    number: str = "DRC-01/2025-26/001",
    title: str = "Show-cause notice u/s 73",
    status: str = "Active",
    created_at: datetime | None = None,
) -> uuid.UUID:
    cid = uuid.uuid4()
    conn.execute(
        text(
            "INSERT INTO cases (id, tenant_id, case_number, title, status, owner_id, assigned_to, "
            "created_at) VALUES (:id, :t, :num, :title, :s, :o, :a, coalesce(:c, now()))"
        ),
        {
            "id": cid,
            "t": tenant_id,
            "num": number,
            "title": title,
            "s": status,
            "o": owner,
            "a": assigned_to,
            "c": created_at,
        },
    )
    return cid


def hearing(
    conn: Connection,
    tenant_id: uuid.UUID,
    case_id: uuid.UUID,
    when: datetime,
    *,
    court_id: uuid.UUID | None = None,
    status: str = "Scheduled",
) -> uuid.UUID:
    hid = uuid.uuid4()
    conn.execute(
        text(
            "INSERT INTO hearings (id, tenant_id, case_id, court_id, hearing_date, status) "
            "VALUES (:id, :t, :c, :court, :d, :s)"
        ),
        {"id": hid, "t": tenant_id, "c": case_id, "court": court_id, "d": when, "s": status},
    )
    return hid


def task(
    conn: Connection,
    tenant_id: uuid.UUID,
    *,
    due: datetime | None,
    created: datetime | None = None,
    priority: str = "High",
    status: str = "Pending",
    case_id: uuid.UUID | None = None,
    assigned_to: uuid.UUID | None = None,
    title: str = "Submit reply to ASMT-10 notice",
    completed_at: datetime | None = None,
) -> uuid.UUID:
    tid = uuid.uuid4()
    created = created or ((due or datetime.now().astimezone()) - timedelta(hours=1))
    conn.execute(
        text(
            "INSERT INTO tasks (id, tenant_id, case_id, title, priority, status, assigned_to, "
            "due_date, created_at, completed_at) VALUES (:id, :t, :c, :title, :p, :s, :a, :d, "
            ":cr, :done)"
        ),
        {
            "id": tid,
            "t": tenant_id,
            "c": case_id,
            "title": title,
            "p": priority,
            "s": status,
            "a": assigned_to,
            "d": due,
            "cr": created,
            "done": completed_at,
        },
    )
    return tid


def rule(
    conn: Connection,
    tenant_id: uuid.UUID,
    trigger: str,
    conditions: dict[str, Any],
    actions: list[dict[str, Any]],
    *,
    name: str = "Test rule",
    is_active: bool = True,
) -> uuid.UUID:
    import json

    rid = uuid.uuid4()
    conn.execute(
        text(
            "INSERT INTO automation_rules (id, tenant_id, name, trigger_event, conditions, "
            "actions, is_active) VALUES (:id, :t, :n, :tr, CAST(:c AS jsonb), CAST(:a AS jsonb), "
            ":act)"
        ),
        {
            "id": rid,
            "t": tenant_id,
            "n": name,
            "tr": trigger,
            "c": json.dumps(conditions),
            "a": json.dumps(actions),
            "act": is_active,
        },
    )
    return rid
