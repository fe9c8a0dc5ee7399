"""send-hearing-reminders on a real PostgreSQL, delivered to loopback SMTP and WhatsApp."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.engine import URL

from gstjobs.notify.delivery import drain
from tests.conftest import AS_OF
from tests.support import factory
from tests.support.jobs import run_job
from tests.support.servers import (
    SmtpServer,
    notify_settings,
    rows,
    smtp_server,
    whatsapp_server,
)


@pytest.fixture
def smtp() -> Any:
    with smtp_server() as server:
        yield server


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def firm(engine: Engine, name: str = "Mehta & Associates", **user: Any) -> dict[str, Any]:
    with engine.begin() as conn:
        t = factory.tenant(conn, name)
        owner = factory.user(conn, t, "admin", name=f"{name} Owner", **user)
        advocate = factory.user(conn, t, name=f"{name} Advocate")
        court = factory.court(conn, "GST Appellate Tribunal", "Ahmedabad")
        case = factory.case(conn, t, owner=owner, assigned_to=advocate, number=f"{name[:4]}/1")
    return {"t": t, "owner": owner, "advocate": advocate, "court": court, "case": case}


def add_hearing(engine: Engine, f: dict[str, Any], when: datetime, **kw: Any) -> Any:
    with engine.begin() as conn:
        return factory.hearing(conn, f["t"], f["case"], when, court_id=f["court"], **kw)


def queued(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return rows(conn)


def test_today_and_tomorrow_in_tenant_time_while_the_server_runs_in_utc(
    engine: Engine, db_url: URL
) -> None:
    settings = notify_settings(db_url)
    with engine.connect() as conn:
        conn.execute(text(f"ALTER DATABASE \"{db_url.database}\" SET timezone TO 'UTC'"))
        conn.commit()
    f = firm(engine)
    # as-of 20:00 UTC on 15 Jan = 01:30 IST on 16 Jan: "today" is the 16th in IST.
    as_of = utc(2026, 1, 15, 20, 0)
    yesterday_late = add_hearing(engine, f, utc(2026, 1, 15, 18, 29))  # 23:59 IST 15th
    today_early = add_hearing(engine, f, utc(2026, 1, 15, 19, 0))  # 00:30 IST 16th
    tomorrow_late = add_hearing(engine, f, utc(2026, 1, 17, 18, 29))  # 23:59 IST 17th
    day_after = add_hearing(engine, f, utc(2026, 1, 17, 18, 30))  # 00:00 IST 18th
    add_hearing(engine, f, utc(2026, 1, 16, 5, 0), status="Adjourned")
    outcome = run_job(settings, "hearing-reminders", as_of=as_of, dry_run=True)
    assert outcome.results["hearingsFound"] == 2
    outcome = run_job(settings, "hearing-reminders", as_of=as_of)
    reminded = {r.payload["hearing_id"] for r in queued(engine)}
    assert reminded == {str(today_early), str(tomorrow_late)}
    assert str(yesterday_late) not in reminded and str(day_after) not in reminded
    assert outcome.results["notificationsQueued"] == 4  # owner + advocate, two hearings


def test_a_hearing_at_half_past_midnight_ist_tomorrow_is_tomorrow(
    engine: Engine, db_url: URL
) -> None:
    settings = notify_settings(db_url)
    f = firm(engine)
    as_of = utc(2026, 1, 15, 2, 30)  # 08:00 IST on the 15th, the scheduled run
    tomorrow_0030 = add_hearing(engine, f, utc(2026, 1, 15, 19, 0))  # 00:30 IST 16th
    # 00:30 IST on the 17th is the 16th in UTC ("tomorrow" by a UTC calendar): not due yet.
    add_hearing(engine, f, utc(2026, 1, 16, 19, 0))
    outcome = run_job(settings, "hearing-reminders", as_of=as_of)
    assert outcome.results["hearingsFound"] == 1
    assert {r.payload["hearing_id"] for r in queued(engine)} == {str(tomorrow_0030)}
    assert {r.dedup_key.rsplit(":", 1)[1] for r in queued(engine)} == {"2026-01-15"}


def test_owner_and_advocate_once_each_active_users_only(engine: Engine, db_url: URL) -> None:
    settings = notify_settings(db_url)
    f = firm(engine)
    with engine.begin() as conn:
        t = f["t"]
        solo = factory.user(conn, t, name="Solo Practitioner")
        gone = factory.user(conn, t, name="Former Advocate", is_active=False)
        same = factory.case(conn, t, owner=solo, assigned_to=solo, number="SOLO/1")
        half = factory.case(conn, t, owner=None, assigned_to=gone, number="HALF/1")
        h_same = factory.hearing(conn, t, same, AS_OF + timedelta(hours=3))
        factory.hearing(conn, t, half, AS_OF + timedelta(hours=3))
    h_both = add_hearing(engine, f, AS_OF + timedelta(hours=5))
    outcome = run_job(settings, "hearing-reminders", as_of=AS_OF)
    assert outcome.results["hearingsFound"] == 3
    got = Counter((r.payload["hearing_id"], r.user_id) for r in queued(engine))
    assert got == {
        (str(h_both), f["owner"]): 1,
        (str(h_both), f["advocate"]): 1,
        (str(h_same), solo): 1,
    }
    (solo_row,) = [r for r in queued(engine) if r.user_id == solo]
    assert solo_row.payload["roles"] == ["owner", "appearing representative"]
    assert outcome.results["notificationsQueued"] == 3


def test_reminded_the_day_before_and_on_the_day_never_twice_a_day(
    engine: Engine, db_url: URL
) -> None:
    settings = notify_settings(db_url)
    f = firm(engine)
    add_hearing(engine, f, AS_OF + timedelta(days=1))  # tomorrow 10:00 IST
    first = run_job(settings, "hearing-reminders", as_of=AS_OF)
    again = run_job(settings, "hearing-reminders", as_of=AS_OF + timedelta(hours=2))
    next_day = run_job(settings, "hearing-reminders", as_of=AS_OF + timedelta(days=1, hours=-2))
    assert (first.results["notificationsQueued"], first.results["duplicatesSkipped"]) == (2, 0)
    assert (again.results["notificationsQueued"], again.results["duplicatesSkipped"]) == (0, 2)
    assert again.results["notificationsSent"] == 0
    assert next_day.results["notificationsQueued"] == 2
    assert len(queued(engine)) == 4


def test_no_hearing_limit_and_the_send_cap_defers_the_rest(
    engine: Engine, db_url: URL, smtp: SmtpServer
) -> None:
    settings = notify_settings(db_url, smtp.env())
    with engine.begin() as conn:
        t = factory.tenant(conn)
        for n in range(120):
            c = factory.case(conn, t, owner=factory.user(conn, t), number=f"BULK/{n}")
            factory.hearing(conn, t, c, AS_OF + timedelta(hours=4))
    outcome = run_job(settings, "hearing-reminders", as_of=AS_OF)
    assert outcome.results["hearingsFound"] == 120
    assert outcome.results["notificationsQueued"] == 120
    assert outcome.results["notificationsSent"] == 100
    assert outcome.results["notificationsDeferred"] == 20
    assert drain(engine, settings, [t]).sent == 20
    assert len(smtp.messages) == 120
    assert len({m.message["Message-ID"] for m in smtp.messages}) == 120


def test_delivered_reminder_reads_right_and_stays_within_its_firm(
    engine: Engine, db_url: URL, smtp: SmtpServer
) -> None:
    settings = notify_settings(db_url, {**smtp.env(), "APP_BASE_URL": "https://app.example.in"})
    mine, theirs = firm(engine, "Mehta & Associates"), firm(engine, "Rao Chambers")
    add_hearing(engine, mine, AS_OF + timedelta(days=1, hours=1))  # Fri 16 Jan 11:00 IST
    add_hearing(engine, theirs, AS_OF + timedelta(hours=2))
    outcome = run_job(settings, "hearing-reminders", as_of=AS_OF)
    assert outcome.status == "success"
    assert (outcome.results["notificationsSent"], outcome.results["notificationsFailed"]) == (4, 0)
    with engine.connect() as conn:
        emails = dict(conn.execute(text("SELECT id, email FROM users")).fetchall())
    (to_owner,) = smtp.to(emails[mine["owner"]])
    assert to_owner.message["Subject"] == (
        "Hearing Reminder: Meht/1 - GST Appellate Tribunal, Fri, 16-01-2026, 11:00 AM IST"
    )
    body = to_owner.text
    assert "Dear Mehta & Associates Owner" in body
    assert "When:         Fri, 16-01-2026, 11:00 AM IST" in body
    assert "GST Appellate Tribunal, Ahmedabad" in body
    assert "Preparation checklist" in body
    assert f"https://app.example.in/cases/{mine['case']}" in body
    for message in smtp.messages:
        ours = message.rcpt_tos[0] in (emails[mine["owner"]], emails[mine["advocate"]])
        raw = message.message.as_string()
        assert ("Rao" in raw) != ours and ("Mehta" in raw) == ours


def test_smtp_down_leaves_the_run_successful_and_the_reminders_queued(
    engine: Engine, db_url: URL
) -> None:
    # The job's work (queuing) succeeded; the deliver job is the one that fails and
    # says the channel is down (tests/integration/test_delivery_failures.py).
    with smtp_server(running=False) as down:
        settings = notify_settings(db_url, down.env())
        add_hearing(engine, firm(engine), AS_OF + timedelta(hours=2))
        outcome = run_job(settings, "hearing-reminders", as_of=AS_OF)
    assert outcome.status == "success" and outcome.exit_code == 0
    assert outcome.results["notificationsQueued"] == 2
    assert (outcome.results["notificationsSent"], outcome.results["notificationsFailed"]) == (0, 0)
    assert outcome.results["channelsDown"] == ["email"]
    assert {(r.status, r.attempts) for r in queued(engine)} == {("pending", 0)}


def test_whatsapp_too_for_opted_in_users_when_configured(
    engine: Engine, db_url: URL, smtp: SmtpServer
) -> None:
    f = firm(engine, phone="+919812345678", whatsapp_opt_in=True)
    add_hearing(engine, f, AS_OF + timedelta(hours=2))
    with whatsapp_server() as wa:
        settings = notify_settings(db_url, {**smtp.env(), **wa.env()})
        outcome = run_job(settings, "hearing-reminders", as_of=AS_OF)
    assert outcome.results["notificationsQueued"] == 3  # 2 emails + 1 WhatsApp (owner)
    assert outcome.results["notificationsSent"] == 3
    (request,) = wa.requests
    assert request.body["to"] == "919812345678"
    assert request.body["template"]["name"] == "hearing_reminder"
    channels = Counter((r.user_id, r.channel) for r in queued(engine))
    assert channels == {
        (f["owner"], "email"): 1,
        (f["owner"], "whatsapp"): 1,
        (f["advocate"], "email"): 1,
    }


def test_without_whatsapp_settings_no_whatsapp_is_queued(engine: Engine, db_url: URL) -> None:
    settings = notify_settings(db_url)
    f = firm(engine, phone="+919812345678", whatsapp_opt_in=True)
    add_hearing(engine, f, AS_OF + timedelta(hours=2))
    run_job(settings, "hearing-reminders", as_of=AS_OF, dry_run=False)
    assert {r.channel for r in queued(engine)} == {"email"}


def test_a_second_run_at_the_same_moment_changes_and_sends_nothing(
    engine: Engine, db_url: URL, smtp: SmtpServer
) -> None:
    settings = notify_settings(db_url, smtp.env())
    f = firm(engine)
    add_hearing(engine, f, AS_OF + timedelta(hours=2))
    add_hearing(engine, f, AS_OF + timedelta(days=1, hours=3))
    first = run_job(settings, "hearing-reminders", as_of=AS_OF)
    before = [(r.id, r.status, r.attempts, r.sent_at) for r in queued(engine)]
    second = run_job(settings, "hearing-reminders", as_of=AS_OF)
    assert (first.results["hearingsFound"], second.results["hearingsFound"]) == (2, 2)
    assert (first.results["notificationsQueued"], first.results["notificationsSent"]) == (4, 4)
    assert second.results["notificationsQueued"] == 0
    assert second.results["duplicatesSkipped"] == 4
    assert second.results["notificationsSent"] == 0
    assert [(r.id, r.status, r.attempts, r.sent_at) for r in queued(engine)] == before
    assert len(smtp.messages) == 4


def statements_of_run(settings: Any, as_of: datetime) -> tuple[Any, int]:
    """Run the job, counting every statement any engine sends meanwhile."""
    sent: list[str] = []

    def count(*args: Any) -> None:
        sent.append(args[2])

    event.listen(Engine, "before_cursor_execute", count)
    try:
        outcome = run_job(settings, "hearing-reminders", as_of=as_of)
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    return outcome, len(sent)


def test_more_hearings_cost_one_statement_per_message_and_no_more(
    engine: Engine, db_url: URL
) -> None:
    settings = notify_settings(db_url)  # the file channel: delivery without a server
    one, eleven = firm(engine, "One Hearing LLP"), firm(engine, "Eleven Hearings LLP")
    add_hearing(engine, one, AS_OF + timedelta(hours=2))
    for n in range(11):  # past the first run's window, in the second run's
        add_hearing(engine, eleven, AS_OF + timedelta(days=2, hours=2, minutes=n))
    small, small_statements = statements_of_run(settings, AS_OF)
    large, large_statements = statements_of_run(settings, AS_OF + timedelta(days=2))
    assert (small.results["hearingsFound"], small.results["notificationsSent"]) == (1, 2)
    assert (large.results["hearingsFound"], large.results["notificationsSent"]) == (11, 22)
    # The job queues in one statement whatever the number of hearings, and delivery
    # claims a practice's messages in one statement; each message's outcome is one
    # statement on the sending lane's own pipelined connection (notify.record),
    # counted in tests/integration/test_delivery_speed.py.
    assert large_statements == small_statements
