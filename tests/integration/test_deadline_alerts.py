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


def existing_task(conn: Any, tenant_id: Any, **kw: Any) -> Any:
    """A task that existed well before AS_OF (the job ignores tasks created later)."""
    kw.setdefault("created", AS_OF - timedelta(days=1))
    return factory.task(conn, tenant_id, **kw)


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
        tasks = {k: existing_task(conn, t, due=v, assigned_to=u, title=k) for k, v in due.items()}
        existing_task(conn, t, due=AS_OF + timedelta(hours=2), assigned_to=u, status="Completed")
        existing_task(conn, t, due=AS_OF + timedelta(hours=2), assigned_to=u, status="Cancelled")
        in_progress = existing_task(
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
        low_soon = existing_task(
            conn, t, due=AS_OF + timedelta(hours=1), assigned_to=me, priority="Low"
        )
        crit_late = existing_task(
            conn, t, due=AS_OF + timedelta(hours=10), assigned_to=me, priority="Critical"
        )
        high_soon = existing_task(
            conn, t, due=AS_OF + timedelta(hours=2), assigned_to=me, priority="High"
        )
        medium = existing_task(
            conn, t, due=AS_OF + timedelta(hours=3), assigned_to=me, priority="Medium"
        )
        hearing = factory.hearing(conn, t, c, AS_OF + timedelta(hours=5))
        theirs = existing_task(conn, t, due=AS_OF + timedelta(hours=4), assigned_to=colleague)
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
        task = existing_task(conn, t, due=AS_OF + timedelta(hours=6), assigned_to=u, case_id=c)
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
            created=as_of - timedelta(days=1),
            assigned_to=factory.user(conn, other),
            title="Rao secret filing",
        )
        crit = factory.task(
            conn,
            t,
            due=as_of + timedelta(hours=7),
            created=as_of - timedelta(days=1),
            assigned_to=u,
            priority="Critical",
            title="Submit Reply to ASMT-10 Notice",
        )
        factory.task(
            conn,
            t,
            due=as_of + timedelta(hours=21, minutes=30),
            created=as_of - timedelta(days=1),
            assigned_to=u,
            priority="Medium",
            title="Prepare hearing documents",
        )
    settings = notify_settings(db_url, {**smtp.env(), "APP_BASE_URL": "https://app.example.in/"})
    outcome = run_job(settings, "deadline-alerts", as_of=as_of)
    assert outcome.results["notificationsSent"] == 2
    (mail,) = smtp.to("asha@mehta.example")
    body = mail.text
    assert mail.message["Subject"] == "Your deadlines: 2 due in the next 24 hours (1 high priority)"
    assert body.index("High priority:") < body.index("Normal priority:")
    assert "• [Task] Submit Reply to ASMT-10 Notice - Critical - Due: Today, 5:00 PM IST" in body
    assert "• [Task] Prepare hearing documents - Medium - Due: Tomorrow, 7:30 AM IST" in body
    assert "Times are in IST." in body and "Asia/Kolkata" not in body
    assert f"https://app.example.in/tasks/{crit}/complete" in body
    assert "View all deadlines: https://app.example.in/deadlines" in body
    assert "Rao" not in mail.message.as_string()


def test_matching_rules_run_on_the_events(engine: Engine, db_url: URL, smtp: SmtpServer) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        u = factory.user(conn, t, email="assignee@firm.example")
        existing_task(conn, t, due=AS_OF + timedelta(hours=3), assigned_to=u, title="File appeal")
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
        "Your deadlines: 1 due in the next 24 hours (1 high priority)",
    ]


def test_a_second_run_at_the_same_moment_ignores_tasks_the_rules_just_created(
    engine: Engine, db_url: URL
) -> None:
    # The demo's rule: a hearing within 24 h makes a "prepare" task due 12 h later, with
    # created_at = as_of. That task must not count, nor become an event, on a re-run.
    with engine.begin() as conn:
        t = factory.tenant(conn)
        u = factory.user(conn, t)
        c = factory.case(conn, t, owner=u, assigned_to=u)
        existing_task(conn, t, due=AS_OF + timedelta(hours=3), assigned_to=u, case_id=c)
        factory.hearing(conn, t, c, AS_OF + timedelta(hours=20))
        factory.rule(
            conn,
            t,
            "deadline_approaching",
            {"entity_type": "hearing", "hours_until_due": {"lte": 24}},
            [
                {
                    "type": "create_task",
                    "title": "Prepare hearing brief",
                    "priority": "High",
                    "due_in_hours": 12,
                    "assign_to": "assignee",
                }
            ],
        )
    settings = notify_settings(db_url)
    first = run_job(settings, "deadline-alerts", as_of=AS_OF)
    with engine.connect() as conn:
        made = conn.execute(
            text("SELECT count(*) FROM tasks WHERE created_at = :at"), {"at": AS_OF}
        ).scalar_one()
    assert (first.results["rulesTriggered"], made) == (1, 1)
    assert (first.results["tasksDue"], first.results["hearingsDue"]) == (1, 1)
    before = (len(events(engine)), len(digests(engine)))
    second = run_job(settings, "deadline-alerts", as_of=AS_OF)
    assert (second.results["tasksDue"], second.results["hearingsDue"]) == (1, 1)
    assert second.results["eventsEmitted"] == 0
    assert second.results["notificationsQueued"] == 0
    assert second.results["rulesTriggered"] == 0
    assert (len(events(engine)), len(digests(engine))) == before == (2, 1)
    with engine.connect() as conn:
        assert len(rows(conn)) == 1  # the one digest: nothing queued by either re-run


def test_a_task_created_after_as_of_did_not_exist_then(engine: Engine, db_url: URL) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        u = factory.user(conn, t)
        due = AS_OF + timedelta(hours=5)
        old = factory.task(conn, t, due=due, assigned_to=u, created=AS_OF - timedelta(days=2))
        factory.task(conn, t, due=due, assigned_to=u, created=AS_OF)
        factory.task(conn, t, due=due, assigned_to=u, created=AS_OF + timedelta(hours=1))
    outcome = run_job(notify_settings(db_url), "deadline-alerts", as_of=AS_OF)
    assert outcome.results["tasksDue"] == 1
    (digest,) = digests(engine)
    assert [i["id"] for i in digest.payload["items"]] == [str(old)]
    assert [e.entity_id for e in events(engine)] == [old]


def test_an_infinite_due_date_does_not_fail_the_digest(engine: Engine, db_url: URL) -> None:
    """A '-infinity' due date (a bad import) is no overdue task; the rest still goes out."""
    with engine.begin() as conn:
        t = factory.tenant(conn)
        u = factory.user(conn, t)
        c = factory.case(conn, t, owner=u)
        bad = existing_task(conn, t, due=AS_OF - timedelta(days=3), assigned_to=u)
        late = existing_task(conn, t, due=AS_OF - timedelta(days=2), assigned_to=u)
        factory.hearing(conn, t, c, AS_OF + timedelta(hours=5))
        conn.execute(text("UPDATE tasks SET due_date = '-infinity' WHERE id = :id"), {"id": bad})
        past = factory.hearing(conn, t, c, AS_OF - timedelta(days=9))
        conn.execute(
            text("UPDATE hearings SET hearing_date = '-infinity' WHERE id = :id"), {"id": past}
        )
    outcome = run_job(notify_settings(db_url), "deadline-alerts", as_of=AS_OF)
    assert outcome.results["tasksOverdue"] == 1
    (digest,) = digests(engine)
    assert [i["id"] for i in digest.payload["overdue"]] == [str(late)]
    assert digest.payload["overdue"][0]["days_overdue"] == 2
