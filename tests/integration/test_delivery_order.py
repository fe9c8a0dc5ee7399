"""What goes first, what waits, and what goes together."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from gstjobs.notify.delivery import drain
from tests.support import factory
from tests.support.outbox import breach, by_id, put
from tests.support.servers import SmtpServer, hearing_payload, notify_settings, smtp_server


@pytest.fixture
def smtp() -> Any:
    with smtp_server() as server:
        yield server


def test_one_partner_with_31_breaches_gets_one_email(
    engine: Engine, db_url: URL, smtp: SmtpServer
) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn, "Mehta & Associates")
        partner = factory.user(conn, t, "admin", name="Asha Mehta", email="asha@mehta.example")
        other = factory.user(conn, t, "admin", email="ravi@mehta.example")
        mine = [
            put(
                conn,
                t,
                partner,
                "sla_violation",
                breach(f"Reply to DRC-01 notice {n:02d}", task_id=str(UUID(int=n + 1))),
            )
            for n in range(31)
        ]
        theirs = put(conn, t, other, "sla_violation", breach("Lone breach"))
    report = drain(engine, notify_settings(db_url, smtp.env()), [t])
    assert (report.sent, report.messages, report.failed) == (32, 2, 0)
    (digest,) = smtp.to("asha@mehta.example")
    (single,) = smtp.to("ravi@mehta.example")
    assert digest.message["Subject"] == "31 alerts: 31 SLA breaches"
    assert digest.text.count("[SLA breached]") == 20  # GSTJOBS_DIGEST_ITEMS
    assert "...and 11 more: http://localhost:8080/alerts" in digest.text
    assert digest.html.count("[SLA breached]") == 20
    assert single.message["Subject"].startswith("SLA breached: Lone breach")
    rows = by_id(engine)
    # Each item keeps its row and de-duplication key, sent once, under the digest's id.
    assert {rows[i].status for i in mine} == {"sent"}
    assert {rows[i].provider_message_id for i in mine} == {digest.message["Message-ID"]}
    assert rows[theirs].provider_message_id == single.message["Message-ID"]
    with engine.connect() as conn:
        keys = conn.execute(text("SELECT count(DISTINCT dedup_key) FROM notifications"))
        assert keys.scalar_one() == 32


def test_a_task_several_rules_notified_about_is_listed_once(
    engine: Engine, db_url: URL, smtp: SmtpServer
) -> None:
    """Three rules on the same overdue task: one item (the task's newest priority), four
    rows sent under the digest's id."""
    with engine.begin() as conn:
        t = factory.tenant(conn, "Mehta & Associates")
        owner = factory.user(conn, t, "advocate", email="asha@mehta.example")
        same = [
            put(conn, t, owner, "sla_violation", breach("Reply to DRC-01 notice", priority))
            for priority in ("High", "High", "Critical")
        ]
        other = put(conn, t, owner, "sla_violation", breach("File APL-01", "Low", str(UUID(int=7))))
    report = drain(engine, notify_settings(db_url, smtp.env()), [t])
    assert (report.sent, report.messages) == (4, 1)
    (digest,) = smtp.to("asha@mehta.example")
    assert digest.message["Subject"] == "2 alerts: 2 SLA breaches"
    assert digest.text.count("Reply to DRC-01 notice") == 1
    assert "Reply to DRC-01 notice (Critical)" in digest.text
    assert digest.text.index("Reply to DRC-01") < digest.text.index("File APL-01")
    assert "notifications " in digest.text and "and 3 more, as one message" in digest.text
    rows = by_id(engine)
    assert {rows[i].status for i in [*same, other]} == {"sent"}
    assert {rows[i].provider_message_id for i in [*same, other]} == {digest.message["Message-ID"]}


def test_a_hearing_reminder_behind_10000_older_sla_notices_goes_in_the_first_delivery(
    engine: Engine, db_url: URL, smtp: SmtpServer
) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn, "Mehta & Associates")
        users = [factory.user(conn, t, email=f"staff{n}@mehta.example") for n in range(200)]
        advocate = factory.user(conn, t, email="advocate@mehta.example")
        conn.execute(
            text(
                """
                INSERT INTO notifications (tenant_id, user_id, channel, template, payload,
                                           dedup_key, created_at, next_attempt_at)
                SELECT :t, (CAST(:users AS uuid[]))[1 + g % 200], 'email', 'sla_violation',
                       CAST(:payload AS jsonb), 'old:' || g,
                       now() - interval '2 days', now() - interval '2 days'
                FROM generate_series(1, 10000) AS g
                """
            ),
            {"t": t, "users": users, "payload": __import__("json").dumps(breach())},
        )
        reminder = put(conn, t, advocate, "hearing_reminder", hearing_payload(), urgency=2)
    settings = notify_settings(db_url, {**smtp.env(), "GSTJOBS_NOTIFY_CAP": "20"})
    report = drain(engine, settings, [t])
    assert by_id(engine)[reminder].status == "sent"
    assert len(smtp.to("advocate@mehta.example")) == 1
    # The cap counts messages: the reminder and 19 digests of the oldest notices.
    assert report.messages == 20
    assert report.sent == 1 + 19 * 50 and report.deferred == 10000 - 19 * 50


def test_urgent_messages_take_the_cap_before_older_routine_ones(
    engine: Engine, db_url: URL, smtp: SmtpServer
) -> None:
    old = datetime.now(UTC) - timedelta(days=1)
    with engine.begin() as conn:
        t = factory.tenant(conn)
        u = factory.user(conn, t, email="one@firm.example")
        routine = [
            put(conn, t, u, "health_alert", {}, created=old + timedelta(minutes=n))
            for n in range(3)
        ]
        soon = put(conn, t, u, "hearing_reminder", hearing_payload("SOON/1"), urgency=1)
        today = put(conn, t, u, "hearing_reminder", hearing_payload("TODAY/1"), urgency=2)
    settings = notify_settings(db_url, {**smtp.env(), "GSTJOBS_NOTIFY_CAP": "2"})
    first = drain(engine, settings, [t])
    rows = by_id(engine)
    assert (first.sent, first.deferred) == (2, 3)
    assert [rows[i].status for i in (today, soon, *routine)] == ["sent", "sent"] + ["pending"] * 3


IST_0345 = datetime(2026, 1, 14, 22, 15, tzinfo=UTC)  # 03:45 IST on 15 January
IST_0800 = datetime(2026, 1, 15, 2, 30, tzinfo=UTC)


def test_quiet_hours_hold_a_0345_message_until_0800_and_let_an_urgent_one_through(
    engine: Engine, db_url: URL, smtp: SmtpServer
) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn, "Mehta & Associates", "Asia/Kolkata")
        u = factory.user(conn, t, email="asha@mehta.example")
        routine = put(conn, t, u, "sla_violation", breach(), created=IST_0345)
        tomorrow = put(
            conn,
            t,
            u,
            "hearing_reminder",
            hearing_payload("TOMORROW/1"),
            urgency=1,
            created=IST_0345,
        )
        today = put(
            conn, t, u, "hearing_reminder", hearing_payload("TODAY/1"), urgency=2, created=IST_0345
        )
    settings = notify_settings(db_url, {**smtp.env(), "GSTJOBS_QUIET_HOURS": "21:00-08:00"})
    night = drain(engine, settings, [t], now=IST_0345)
    assert (night.sent, night.held, night.deferred) == (1, 2, 0)
    rows = by_id(engine)
    assert rows[today].status == "sent"
    # Held: due at 08:00 IST, as notify list shows; no attempt spent.
    assert {
        (rows[i].status, rows[i].attempts, rows[i].next_attempt_at) for i in (routine, tomorrow)
    } == {("pending", 0, IST_0800)}
    assert drain(engine, settings, [t], now=IST_0800 - timedelta(minutes=1)).sent == 0
    morning = drain(engine, settings, [t], now=IST_0800)
    assert (morning.sent, morning.held) == (2, 0)
    assert Counter(m.message["Subject"].split(":")[0] for m in smtp.messages) == {
        "Hearing Reminder": 2,
        "SLA breached": 1,
    }


def test_a_practice_can_set_its_own_quiet_hours_or_none(
    engine: Engine, db_url: URL, smtp: SmtpServer
) -> None:
    with engine.begin() as conn:
        night_owls = factory.tenant(conn, "Night Owls LLP")
        early = factory.tenant(conn, "Early Birds LLP")
        for tenant, start, end in ((night_owls, "00:00", "00:00"), (early, "02:00", "05:00")):
            conn.execute(
                text(
                    "UPDATE tenants SET quiet_hours_start = :s, quiet_hours_end = :e WHERE id = :t"
                ),
                {"t": tenant, "s": start, "e": end},
            )
        ids = {}
        for t in (night_owls, early):
            user = factory.user(conn, t)
            ids[t] = put(conn, t, user, "sla_violation", breach(), created=IST_0345)
    settings = notify_settings(db_url, {**smtp.env(), "GSTJOBS_QUIET_HOURS": "21:00-08:00"})
    report = drain(engine, settings, [night_owls, early], now=IST_0345)
    rows = by_id(engine)
    assert (report.sent, report.held) == (1, 1)
    assert rows[ids[night_owls]].status == "sent"  # equal start and end: never quiet
    held = rows[ids[early]]
    assert (held.status, held.next_attempt_at) == (
        "pending",
        datetime(2026, 1, 14, 23, 30, tzinfo=UTC),  # 05:00 IST
    )
