"""check-upcoming-deadlines: the 24-hour window, one digest per user, events for the rules."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from tests.conftest import AS_OF
from tests.support import factory
from tests.support.jobs import run_job
from tests.support.servers import SmtpServer, notify_settings, rows, smtp_server


@pytest.fixture
def smtp() -> Any:
    with smtp_server() as server:
        yield server


def events(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT tenant_id, entity_type, entity_id, dedup_key, payload "
                    "FROM automation_events WHERE event_type = 'deadline_approaching' ORDER BY id"
                )
            )
        )


def digests(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return [r for r in rows(conn) if r.template == "deadline_digest"]


def test_window_is_after_as_of_up_to_24_hours_open_items_only(engine: Engine, db_url: URL) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        u = factory.user(conn, t)
        c = factory.case(conn, t, owner=u)
        due = {
            "at_as_of": AS_OF,
            "just_after": AS_OF + timedelta(seconds=1),
            "at_24h": AS_OF + timedelta(hours=24),
            "past_24h": AS_OF + timedelta(hours=24, seconds=1),
        }
        tasks = {k: factory.task(conn, t, due=v, assigned_to=u, title=k) for k, v in due.items()}
        factory.task(conn, t, due=AS_OF + timedelta(hours=2), assigned_to=u, status="Completed")
        factory.task(conn, t, due=AS_OF + timedelta(hours=2), assigned_to=u, status="Cancelled")
        in_progress = factory.task(
            conn, t, due=AS_OF + timedelta(hours=2), assigned_to=u, status="In Progress"
        )
        hearing = factory.hearing(conn, t, c, AS_OF + timedelta(hours=20))
        factory.hearing(conn, t, c, AS_OF + timedelta(hours=20), status="Adjourned")
    outcome = run_job(notify_settings(db_url), "deadline-alerts", as_of=AS_OF)
    assert (outcome.results["tasksDue"], outcome.results["hearingsDue"]) == (3, 1)
    (digest,) = digests(engine)
    ids = {i["id"] for i in digest.payload["items"]}
    assert ids == {
        str(tasks["just_after"]),
        str(tasks["at_24h"]),
        str(in_progress),
        str(hearing),
    }
    assert outcome.results["usersAlerted"] == 1
    assert outcome.results["notificationsQueued"] == 1


def test_one_digest_per_user_high_priority_first(engine: Engine, db_url: URL) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        me = factory.user(conn, t)
        colleague = factory.user(conn, t)
        c = factory.case(conn, t, owner=me, assigned_to=me, number="GST/APL/7")
        low_soon = factory.task(
            conn, t, due=AS_OF + timedelta(hours=1), assigned_to=me, priority="Low"
        )
        crit_late = factory.task(
            conn, t, due=AS_OF + timedelta(hours=10), assigned_to=me, priority="Critical"
        )
        high_soon = factory.task(
            conn, t, due=AS_OF + timedelta(hours=2), assigned_to=me, priority="High"
        )
        medium = factory.task(
            conn, t, due=AS_OF + timedelta(hours=3), assigned_to=me, priority="Medium"
        )
        hearing = factory.hearing(conn, t, c, AS_OF + timedelta(hours=5))
        theirs = factory.task(conn, t, due=AS_OF + timedelta(hours=4), assigned_to=colleague)
    outcome = run_job(notify_settings(db_url), "deadline-alerts", as_of=AS_OF)
    assert outcome.results["usersAlerted"] == 2
    by_user = {d.user_id: d for d in digests(engine)}
    assert set(by_user) == {me, colleague}
    order = [(i["id"], i["high"]) for i in by_user[me].payload["items"]]
    assert order == [
        (str(high_soon), True),
        (str(hearing), True),  # the hearing once, though I own and am assigned the case
        (str(crit_late), True),
        (str(low_soon), False),
        (str(medium), False),
    ]
    assert [i["id"] for i in by_user[colleague].payload["items"]] == [str(theirs)]


def test_events_for_the_rules_engine_once_and_nothing_twice(engine: Engine, db_url: URL) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        u = factory.user(conn, t)
        c = factory.case(conn, t, owner=u)
        task = factory.task(conn, t, due=AS_OF + timedelta(hours=6), assigned_to=u, case_id=c)
        hearing = factory.hearing(conn, t, c, AS_OF + timedelta(hours=12, minutes=30))
    settings = notify_settings(db_url)
    first = run_job(settings, "deadline-alerts", as_of=AS_OF)
    second = run_job(settings, "deadline-alerts", as_of=AS_OF + timedelta(hours=1))
    got = {(e.entity_type, e.entity_id): e for e in events(engine)}
    assert set(got) == {("task", task), ("hearing", hearing)}
    assert got[("task", task)].payload == {
        "entity_type": "task",
        "entity_id": str(task),
        "hours_until_due": 6.0,
        "case_id": str(c),
        "priority": "High",
        "due_date": got[("task", task)].payload["due_date"],
    }
    assert got[("hearing", hearing)].payload["hours_until_due"] == 12.5
    assert "priority" not in got[("hearing", hearing)].payload
    assert got[("task", task)].dedup_key == f"task:{task}@2026-01-15T10:30:00Z"
    assert first.results["eventsEmitted"] == 2
    assert (second.results["eventsEmitted"], second.results["notificationsQueued"]) == (0, 0)
    assert second.results["usersAlerted"] == 0
    assert len(digests(engine)) == 1


def test_digest_reads_like_the_seed_with_action_links(
    engine: Engine, db_url: URL, smtp: SmtpServer
) -> None:
    # Day labels ("Today", "Tomorrow") are relative to when the message is sent, so
    # this run is set at 10:00 IST on the real current day.
    ist = ZoneInfo("Asia/Kolkata")
    with engine.connect() as conn:
        now = conn.execute(text("SELECT now()")).scalar_one()
    as_of = datetime.combine(now.astimezone(ist).date(), time(10, 0), ist).astimezone(UTC)
    with engine.begin() as conn:
        t = factory.tenant(conn, "Mehta & Associates")
        u = factory.user(conn, t, name="Asha Mehta", email="asha@mehta.example")
        other = factory.tenant(conn, "Rao Chambers")
        factory.task(
            conn,
            other,
            due=as_of + timedelta(hours=2),
            assigned_to=factory.user(conn, other),
            title="Rao secret filing",
        )
        crit = factory.task(
            conn,
            t,
            due=as_of + timedelta(hours=7),
            assigned_to=u,
            priority="Critical",
            title="Submit Reply to ASMT-10 Notice",
        )
        factory.task(
            conn,
            t,
            due=as_of + timedelta(hours=21, minutes=30),
            assigned_to=u,
            priority="Medium",
            title="Prepare hearing documents",
        )
    settings = notify_settings(db_url, {**smtp.env(), "APP_BASE_URL": "https://app.example.in/"})
    outcome = run_job(settings, "deadline-alerts", as_of=as_of)
    assert outcome.results["notificationsSent"] == 2
    (mail,) = smtp.to("asha@mehta.example")
    body = mail.text
    assert mail.message["Subject"] == (
        "Your upcoming deadlines (next 24 hours): 2 items, 1 high priority"
    )
    assert body.index("HIGH PRIORITY:") < body.index("NORMAL PRIORITY:")
    assert "• [Task] Submit Reply to ASMT-10 Notice - Critical - Due: Today 5:00 PM" in body
    assert "• [Task] Prepare hearing documents - Medium - Due: Tomorrow 7:30 AM" in body
    assert f"https://app.example.in/tasks/{crit}/complete" in body
    assert "View all deadlines: https://app.example.in/deadlines" in body
    assert "Rao" not in mail.message.as_string()


def test_matching_rules_run_on_the_events(engine: Engine, db_url: URL, smtp: SmtpServer) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        u = factory.user(conn, t, email="assignee@firm.example")
        factory.task(conn, t, due=AS_OF + timedelta(hours=3), assigned_to=u, title="File appeal")
        factory.rule(
            conn,
            t,
            "deadline_approaching",
            {"entity_type": "task", "hours_until_due": {"lte": 24}},
            [
                {
                    "type": "notify",
                    "recipient": "assignee",
                    "channel": "email",
                    "template": "deadline_approaching",
                }
            ],
        )
    outcome = run_job(notify_settings(db_url, smtp.env()), "deadline-alerts", as_of=AS_OF)
    assert outcome.results["rulesTriggered"] == 1
    subjects = sorted(m.message["Subject"] for m in smtp.to("assignee@firm.example"))
    assert subjects == [
        "Due in 3.0 h: File appeal",
        "Your upcoming deadlines (next 24 hours): 1 item, 1 high priority",
    ]
