"""The rules engine's actions on a real PostgreSQL: notify, escalate, create_task."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import Engine, text

from gstjobs.automation.rules import validate_actions
from gstjobs.config import Settings
from gstjobs.errors import RuleError
from tests.conftest import AS_OF
from tests.support import factory
from tests.support.automation import event, process, rows
from tests.support.jobs import run_job


def world(engine: Engine, priority: str = "High") -> dict[str, Any]:
    """One tenant: an owner, an assignee (opted in to WhatsApp), two admins (one inactive),
    a case and a task."""
    with engine.begin() as conn:
        t = factory.tenant(conn)
        owner = factory.user(conn, t, "advocate")
        assignee = factory.user(conn, t, "staff", phone="+919812345678", whatsapp_opt_in=True)
        admin = factory.user(conn, t, "admin")
        factory.user(conn, t, "admin", is_active=False, phone="+919800000001", whatsapp_opt_in=True)
        case = factory.case(conn, t, owner=owner, assigned_to=assignee, number="ASMT-10/2025/7")
        task = factory.task(
            conn,
            t,
            due=AS_OF - timedelta(days=3),
            priority=priority,
            case_id=case,
            assigned_to=assignee,
        )
    return {
        "t": t,
        "owner": owner,
        "assignee": assignee,
        "admin": admin,
        "case": case,
        "task": task,
    }


def overdue(engine: Engine, w: dict[str, Any], **payload: Any) -> int:
    with engine.begin() as conn:
        return event(
            conn,
            w["t"],
            "task_overdue",
            w["task"],
            {"task_id": str(w["task"]), "case_id": str(w["case"]), **payload},
            occurred_at=AS_OF,
        )


def add_rule(engine: Engine, w: dict[str, Any], trigger: str, cond: Any, actions: Any) -> UUID:
    with engine.begin() as conn:
        return factory.rule(conn, w["t"], trigger, cond, actions)


def test_notify_assignee_queues_the_contract_payload(engine: Engine, settings: Settings) -> None:
    w = world(engine)
    rule = add_rule(
        engine,
        w,
        "task_overdue",
        {"priority": "High"},
        [{"type": "notify", "recipient": "assignee", "channel": "whatsapp"}],
    )
    ev = overdue(engine, w, priority="High", days_overdue=3)
    fired = process(engine, settings, AS_OF)
    assert (fired.executed, fired.failed) == (1, 0)
    (n,) = rows(engine, "SELECT * FROM notifications")
    assert (n.tenant_id, n.user_id, n.channel, n.template, n.status) == (
        w["t"],
        w["assignee"],
        "whatsapp",
        "task_overdue",
        "pending",
    )
    assert n.dedup_key == f"rule:{rule}:event:{ev}:user:{w['assignee']}"
    p = n.payload
    assert set(p) == {"rule_id", "rule_name", "event_type", "event", "task", "case"}
    assert (p["rule_id"], p["event_type"]) == (str(rule), "task_overdue")
    assert p["event"]["days_overdue"] == 3
    assert set(p["task"]) == {"id", "title", "priority", "status", "due_date"}
    assert p["task"]["id"] == str(w["task"])
    assert p["case"] == {
        "id": str(w["case"]),
        "case_number": "ASMT-10/2025/7",
        "title": "Show-cause notice u/s 73",
    }
    (log,) = rows(engine, "SELECT * FROM automation_logs")
    assert (log.rule_id, log.status, log.event_id, log.executed_at) == (rule, "success", ev, AS_OF)
    assert log.actions_executed[0]["queued"] == 1


def test_notify_case_owner_and_only_active_admins_of_the_tenant(
    engine: Engine, settings: Settings
) -> None:
    w = world(engine)
    with engine.begin() as conn:
        other = factory.tenant(conn, "Other")
        factory.user(conn, other, "admin")
    add_rule(
        engine,
        w,
        "sla_violation",
        {},
        [
            {"type": "notify", "recipient": "case_owner", "template": "task_overdue"},
            {"type": "notify", "recipient": "admins"},
        ],
    )
    with engine.begin() as conn:
        event(conn, w["t"], "sla_violation", w["task"], {"sla_threshold": 72}, occurred_at=AS_OF)
    process(engine, settings, AS_OF)
    got = {(n.user_id, n.template) for n in rows(engine, "SELECT * FROM notifications")}
    assert got == {(w["owner"], "task_overdue"), (w["admin"], "sla_violation")}


def test_whatsapp_goes_only_to_opted_in_users_with_a_phone(
    engine: Engine, settings: Settings
) -> None:
    w = world(engine)
    with engine.begin() as conn:
        reachable = factory.user(conn, w["t"], "admin", phone="+919800000002", whatsapp_opt_in=True)
        factory.user(conn, w["t"], "admin", whatsapp_opt_in=True)  # opted in, no phone
        factory.user(conn, w["t"], "admin", phone="+919800000003")  # phone, never opted in
    rule = add_rule(
        engine,
        w,
        "task_overdue",
        {},
        [
            {"type": "notify", "recipient": "assignee", "channel": "whatsapp"},
            {"type": "notify", "recipient": "case_owner", "channel": "whatsapp"},
            {"type": "notify", "recipient": "admins", "channel": "whatsapp"},
            {"type": "notify", "recipient": "case_owner", "channel": "email"},
        ],
    )
    overdue(engine, w)
    assert process(engine, settings, AS_OF).failed == 0
    queued = rows(engine, "SELECT user_id, channel FROM notifications")
    assert sorted((n.user_id, n.channel) for n in queued) == sorted(
        [(w["assignee"], "whatsapp"), (reachable, "whatsapp"), (w["owner"], "email")]
    )
    (log,) = rows(engine, "SELECT * FROM automation_logs WHERE rule_id = :r", r=rule)
    counts = [(a["recipients"], a["queued"]) for a in log.actions_executed]
    # The owner never opted in: skipped like a missing person, not an error.
    assert counts == [(1, 1), (0, 0), (1, 1), (1, 1)]
    assert log.status == "success"


def test_hearing_event_assignee_is_the_cases_assignee(engine: Engine, settings: Settings) -> None:
    w = world(engine)
    with engine.begin() as conn:
        hearing = factory.hearing(conn, w["t"], w["case"], AS_OF + timedelta(hours=20))
        event(
            conn,
            w["t"],
            "deadline_approaching",
            hearing,
            {"entity_type": "hearing", "entity_id": str(hearing), "hours_until_due": 20},
            entity_type="hearing",
            occurred_at=AS_OF,
        )
        factory.rule(
            conn,
            w["t"],
            "deadline_approaching",
            {"entity_type": "hearing", "hours_until_due": {"lte": 24}},
            [
                {"type": "notify", "recipient": "assignee"},
                {
                    "type": "create_task",
                    "title": "Prepare hearing brief",
                    "due_in_hours": 12,
                    "priority": "High",
                },
            ],
        )
    process(engine, settings, AS_OF)
    (n,) = rows(engine, "SELECT * FROM notifications")
    assert n.user_id == w["assignee"]
    assert n.payload["task"] is None
    assert n.payload["case"]["id"] == str(w["case"])
    (made,) = rows(engine, "SELECT * FROM tasks WHERE title = 'Prepare hearing brief'")
    assert (made.case_id, made.assigned_to, made.priority) == (w["case"], w["assignee"], "High")


def test_escalate_reassigns_to_owner_and_raises_one_step(
    engine: Engine, settings: Settings
) -> None:
    high, critical = world(engine, "High"), world(engine, "Critical")
    for w in (high, critical):
        add_rule(
            engine,
            w,
            "task_overdue",
            {},
            [{"type": "escalate", "reassign_to": "case_owner", "raise_priority": True}],
        )
        overdue(engine, w)
    assert process(engine, settings, AS_OF).executed == 2
    for w in (high, critical):
        (task,) = rows(engine, "SELECT * FROM tasks WHERE id = :id", id=w["task"])
        assert task.assigned_to == w["owner"]
        assert task.priority == "Critical"  # High goes up one step; Critical stays Critical
    (log,) = rows(engine, "SELECT * FROM automation_logs WHERE tenant_id = :t", t=high["t"])
    assert log.actions_executed[0]["priority"] == ["High", "Critical"]
    assert log.actions_executed[0]["reassigned"] is True


def test_escalate_tells_the_case_owner_and_leaves_the_task_with_its_assignee(
    engine: Engine, settings: Settings
) -> None:
    """Issue 12: escalation informs; the partner is told, not handed the associate's work."""
    w = world(engine, "Medium")
    rule = add_rule(engine, w, "sla_violation", {}, [{"type": "escalate"}])
    with engine.begin() as conn:
        ev = event(
            conn, w["t"], "sla_violation", w["task"], {"task_id": str(w["task"])}, occurred_at=AS_OF
        )
    assert process(engine, settings, AS_OF).executed == 1
    (task,) = rows(engine, "SELECT * FROM tasks WHERE id = :id", id=w["task"])
    assert (task.assigned_to, task.priority) == (w["assignee"], "High")
    (n,) = rows(engine, "SELECT * FROM notifications")
    assert (n.user_id, n.channel, n.template) == (w["owner"], "email", "sla_violation")
    assert n.dedup_key == f"escalate:rule:{rule}:event:{ev}:pos:0:user:{w['owner']}"
    assert n.payload["escalation"] == {"priority": ["Medium", "High"], "reassigned": False}
    assert n.payload["task"]["priority"] == "High"  # the message shows the task as escalated
    (log,) = rows(engine, "SELECT * FROM automation_logs")
    assert log.actions_executed[0]["reassigned"] is False
    assert log.actions_executed[0]["owner_notified"] is True
    # The same moment again: the event is processed, nothing is told twice.
    assert process(engine, settings, AS_OF).executed == 0
    assert rows(engine, "SELECT count(*) FROM notifications") == [(1,)]


def test_escalate_reassigns_only_when_the_rule_says_so(engine: Engine, settings: Settings) -> None:
    w = world(engine, "Low")
    add_rule(
        engine,
        w,
        "task_overdue",
        {},
        [{"type": "escalate", "reassign": True, "raise_priority": False}],
    )
    overdue(engine, w)
    process(engine, settings, AS_OF)
    (task,) = rows(engine, "SELECT * FROM tasks WHERE id = :id", id=w["task"])
    assert (task.assigned_to, task.priority) == (w["owner"], "Low")
    (n,) = rows(engine, "SELECT * FROM notifications")
    assert n.user_id == w["owner"]
    assert n.payload["escalation"] == {"priority": ["Low", "Low"], "reassigned": True}


def test_escalate_leaves_a_completed_task_alone(engine: Engine, settings: Settings) -> None:
    w = world(engine, "Low")
    add_rule(engine, w, "task_overdue", {}, [{"type": "escalate", "raise_priority": True}])
    overdue(engine, w)
    with engine.begin() as conn:  # completed before the engine gets to the event
        conn.execute(
            text("UPDATE tasks SET status = 'Completed' WHERE id = :id"), {"id": w["task"]}
        )
    process(engine, settings, AS_OF)
    (task,) = rows(engine, "SELECT priority FROM tasks WHERE id = :id", id=w["task"])
    assert task.priority == "Low"
    (log,) = rows(engine, "SELECT * FROM automation_logs")
    assert log.status == "success"
    assert log.actions_executed[0]["skipped"] == "no open task"


def test_create_task_follows_up_in_the_same_case(engine: Engine, settings: Settings) -> None:
    w = world(engine)
    add_rule(
        engine,
        w,
        "task_overdue",
        {"days_overdue": {"gte": 2}},
        [
            {
                "type": "create_task",
                "title": "Seek adjournment",
                "due_in_hours": 24,
                "assign_to": "case_owner",
            }
        ],
    )
    overdue(engine, w, days_overdue=3)
    overdue(engine, w, days_overdue=1)  # does not match
    fired = process(engine, settings, AS_OF)
    assert fired.executed == 1
    (made,) = rows(engine, "SELECT * FROM tasks WHERE title = 'Seek adjournment'")
    assert (made.tenant_id, made.case_id, made.assigned_to) == (w["t"], w["case"], w["owner"])
    assert (made.priority, made.status) == ("Medium", "Pending")
    assert made.due_date == AS_OF + timedelta(hours=24)
    assert made.created_at == AS_OF


def test_sla_check_runs_the_rules_and_counts_them(engine: Engine, settings: Settings) -> None:
    w = world(engine, "Critical")
    add_rule(
        engine,
        w,
        "task_overdue",
        {"priority": "Critical", "days_overdue": {"gte": 2}},
        [
            {"type": "escalate", "reassign_to": "case_owner"},
            {"type": "notify", "recipient": "case_owner"},
        ],
    )
    add_rule(engine, w, "sla_violation", {}, [{"type": "notify", "recipient": "admins"}])
    with engine.begin() as conn:  # no due date and no one has started it for four days
        factory.task(conn, w["t"], due=None, created=AS_OF - timedelta(days=4))
    outcome = run_job(settings, "sla-check", as_of=AS_OF)
    assert outcome.status == "success"
    assert outcome.results["rulesTriggered"] == 2
    assert outcome.results["rulesFailed"] == 0
    (task,) = rows(engine, "SELECT assigned_to FROM tasks WHERE id = :id", id=w["task"])
    assert task.assigned_to == w["owner"]
    assert rows(engine, "SELECT count(*) FROM automation_events WHERE processed_at IS NULL") == [
        (0,)
    ]


def test_a_limitation_rule_creates_its_task_in_the_proceedings_case(
    engine: Engine, settings: Settings
) -> None:
    """limitation-watch's events concern a proceeding: the task a rule creates belongs to
    the proceeding's case and goes to its owner (it had no case and no assignee)."""
    w = world(engine)
    with engine.begin() as conn:
        proceeding = conn.execute(
            text(
                "INSERT INTO proceedings (tenant_id, case_id, kind, issue_date) "
                "VALUES (:t, :c, 'SCN_S73', DATE '2026-10-01') RETURNING id"
            ),
            {"t": w["t"], "c": w["case"]},
        ).scalar_one()
        event(
            conn,
            w["t"],
            "limitation_approaching",
            proceeding,
            {"threshold": "T-7"},
            entity_type="proceeding",
            occurred_at=AS_OF,
        )
    add_rule(
        engine,
        w,
        "limitation_approaching",
        {"threshold": "T-7"},
        [
            {
                "type": "create_task",
                "title": "File the reply",
                "due_in_hours": 24,
                "assign_to": "case_owner",
            }
        ],
    )
    fired = process(engine, settings, AS_OF)
    assert (fired.executed, fired.failed) == (1, 0), rows(
        engine, "SELECT error_message FROM automation_logs"
    )
    (made,) = rows(engine, "SELECT * FROM tasks WHERE title = 'File the reply'")
    assert (made.case_id, made.assigned_to) == (w["case"], w["owner"])


def test_a_limitation_rule_that_notifies_is_refused_with_the_reason() -> None:
    with pytest.raises(RuleError, match="cannot notify: limitation-watch itself sends"):
        validate_actions([{"type": "notify", "recipient": "case_owner"}], "limitation_lapsed")
