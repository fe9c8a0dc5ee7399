"""Builders for proceedings and a direct way to compute the register, for limitation tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, text

from gstjobs.limitation import compute
from tests.support import factory

IST = ZoneInfo("Asia/Kolkata")


@dataclass
class Matter:
    tenant_id: uuid.UUID
    case_id: uuid.UUID
    owner: uuid.UUID
    advocate: uuid.UUID
    admin: uuid.UUID


def matter(conn: Connection, *, tz: str = "Asia/Kolkata") -> Matter:
    t = factory.tenant(conn, "Kaveri Law Chambers", tz)
    admin = factory.user(conn, t, "admin", name="Partner")
    owner = factory.user(conn, t, "advocate", name="Owner")
    advocate = factory.user(conn, t, "advocate", name="Advocate")
    client = uuid.uuid4()
    conn.execute(
        text(
            "INSERT INTO clients (id, tenant_id, name, gstin) "
            "VALUES (:id, :t, 'Kaveri Agro Exports Ltd', '33AAACK1234F1Z5')"
        ),
        {"id": client, "t": t},
    )
    case = factory.case(
        conn, t, owner=owner, assigned_to=advocate, number="DRC-01/2022-23/00100006"
    )
    conn.execute(text("UPDATE cases SET client_id = :c WHERE id = :id"), {"c": client, "id": case})
    return Matter(t, case, owner, advocate, admin)


def proceeding(conn: Connection, m: Matter, kind: str, issue: date, **columns: Any) -> uuid.UUID:
    pid = uuid.uuid4()
    values = {
        "id": pid,
        "tenant_id": m.tenant_id,
        "case_id": m.case_id,
        "kind": kind,
        "issue_date": issue,
        **columns,
    }
    names = ", ".join(values)
    binds = ", ".join(f":{k}" for k in values)
    conn.execute(text(f"INSERT INTO proceedings ({names}) VALUES ({binds})"), values)
    return pid


def event(
    conn: Connection, m: Matter, pid: uuid.UUID, kind: str, day: date, **columns: Any
) -> None:
    values = {
        "tenant_id": m.tenant_id,
        "proceeding_id": pid,
        "kind": kind,
        "event_date": day,
        **columns,
    }
    names = ", ".join(values)
    binds = ", ".join(f":{k}" for k in values)
    conn.execute(text(f"INSERT INTO proceeding_events ({names}) VALUES ({binds})"), values)


def morning(day: date) -> datetime:
    """07:30 IST on ``day``, as UTC: when the job runs."""
    return datetime.combine(day, time(7, 30), tzinfo=IST).astimezone(UTC)


def register(engine: Engine, m: Matter, day: date) -> dict[tuple[str, str], dict[str, Any]]:
    """Compute the register of ``m``'s practice as of ``day`` 07:30 IST (committed)."""
    with engine.begin() as conn:
        compute.compute(conn, [m.tenant_id], morning(day), run_id=1, job_name="test")
        rows = conn.execute(
            text(
                "SELECT d.*, p.kind AS pkind FROM limitation_dates d "
                "JOIN proceedings p ON p.id = d.proceeding_id WHERE d.tenant_id = :t"
            ),
            {"t": m.tenant_id},
        ).mappings()
        return {(f"{r['pkind']}/{r['rule_id']}", r["fy"]): dict(r) for r in rows}


def one(
    found: dict[tuple[str, str], dict[str, Any]], kind: str, rule: str, fy: str = "*"
) -> dict[str, Any]:
    return found[(f"{kind}/{rule}", fy)]


def day_before(d: date) -> date:
    return d - timedelta(days=1)
