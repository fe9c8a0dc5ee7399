"""The rules engine under failure: bad rules isolated, every event acted on exactly once,
and no tenant's rule ever reaching another tenant's rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from gstjobs.automation import engine as rules_engine
from gstjobs.config import Settings
from tests.conftest import AS_OF
from tests.support import factory
from tests.support.automation import context, event, process, rows

NOTIFY_ASSIGNEE = [{"type": "notify", "recipient": "assignee"}]


def setup_tenant(engine: Engine, *, with_case: bool = True) -> dict[str, Any]:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        owner = factory.user(conn, t, "advocate")
        assignee = factory.user(conn, t, "staff")
        case = factory.case(conn, t, owner=owner, assigned_to=assignee) if with_case else None
        task = factory.task(
            conn, t, due=AS_OF - timedelta(days=2), case_id=case, assigned_to=assignee
        )
        ev = event(
            conn,
            t,
            "task_overdue",
            task,
            {"task_id": str(task), "days_overdue": 2},
            occurred_at=AS_OF,
        )
    return {"t": t, "owner": owner, "assignee": assignee, "case": case, "task": task, "event": ev}


def count(engine: Engine, table: str) -> int:
    return int(rows(engine, f"SELECT count(*) FROM {table}")[0][0])  # table names are ours


def test_malformed_rule_is_logged_failed_and_the_good_rule_still_acts(
    engine: Engine, settings: Settings
) -> None:
    w = setup_tenant(engine)
    with engine.begin() as conn:
        good = factory.rule(conn, w["t"], "task_overdue", {}, NOTIFY_ASSIGNEE, name="Good")
        bad = factory.rule(
            conn, w["t"], "task_overdue", {}, [{"type": "notify", "recipient": "boss"}], name="Bad"
        )
    fired = process(engine, settings, AS_OF)
    assert (fired.executed, fired.failed) == (2, 1)
    logs = {r.rule_id: r for r in rows(engine, "SELECT * FROM automation_logs")}
    assert logs[good].status == "success"
    assert logs[bad].status == "failed"
    assert logs[bad].error_message.startswith("invalid rule: actions[0].recipient must be one of")
    assert logs[bad].actions_executed == []
    assert [n.user_id for n in rows(engine, "SELECT user_id FROM notifications")] == [w["assignee"]]


def test_rule_with_unreadable_conditions_fails_once_per_event_of_its_trigger(
    engine: Engine, settings: Settings
) -> None:
    w = setup_tenant(engine)
    with engine.begin() as conn:
        bad = factory.rule(
            conn, w["t"], "task_overdue", {"priority": {"like": "C%"}}, NOTIFY_ASSIGNEE
        )
        factory.rule(conn, w["t"], "sla_violation", {}, NOTIFY_ASSIGNEE)  # no such event: idle
        event(conn, w["t"], "task_overdue", w["task"], {"days_overdue": 3}, occurred_at=AS_OF)
    fired = process(engine, settings, AS_OF)
    assert (fired.executed, fired.failed) == (2, 2)
    logged = rows(engine, "SELECT rule_id, status, error_message FROM automation_logs")
    assert {(r.rule_id, r.status) for r in logged} == {(bad, "failed")}
    assert "conditions.priority.like is not an operator" in logged[0].error_message
    assert count(engine, "notifications") == 0


def test_a_misspelt_field_is_refused_not_matched_against_every_event(
    engine: Engine, settings: Settings
) -> None:
    """`ne` on a field no event carries holds for every event: such a rule, stored
    before the validator knew each trigger's fields, would have notified on every
    overdue task. It is logged failed, naming the field, and does nothing."""
    w = setup_tenant(engine)
    with engine.begin() as conn:
        bad = factory.rule(
            conn, w["t"], "task_overdue", {"priorty": {"ne": "Low"}}, NOTIFY_ASSIGNEE
        )
        event(conn, w["t"], "task_overdue", w["task"], {"priority": "Low"}, occurred_at=AS_OF)
    fired = process(engine, settings, AS_OF)
    overdue = rows(engine, "SELECT id FROM automation_events WHERE event_type = 'task_overdue'")
    assert fired.executed == fired.failed == len(overdue) >= 1
    logged = rows(engine, "SELECT rule_id, status, error_message FROM automation_logs")
    assert {(r.rule_id, r.status) for r in logged} == {(bad, "failed")}
    assert all(
        "conditions.priorty is not a field of task_overdue events" in r.error_message
        for r in logged
    )
    assert rows(engine, "SELECT id FROM notifications") == []


def test_constraint_violation_fails_only_the_offending_executions(
    engine: Engine, settings: Settings
) -> None:
    """An existing litigation database may carry constraints gstjobs does not know about:
    here follow-up tasks must belong to a case, so the rule fails for the case-less task only."""
    with_case, without_case = setup_tenant(engine), setup_tenant(engine, with_case=False)
    with engine.begin() as conn:
        conn.execute(
            text(
                "ALTER TABLE tasks ADD CONSTRAINT follow_up_needs_case "
                "CHECK (case_id IS NOT NULL OR title NOT LIKE 'Follow up%')"
            )
        )
        for w in (with_case, without_case):
            factory.rule(
                conn,
                w["t"],
                "task_overdue",
                {},
                [{"type": "create_task", "title": "Follow up with client", "due_in_hours": 24}],
                name="Follow up",
            )
            factory.rule(conn, w["t"], "task_overdue", {}, NOTIFY_ASSIGNEE, name="Tell")
    fired = process(engine, settings, AS_OF)
    assert (fired.executed, fired.failed) == (4, 1)
    failed = rows(engine, "SELECT * FROM automation_logs WHERE status = 'failed'")
    assert [(f.tenant_id, f.rule_name) for f in failed] == [(without_case["t"], "Follow up")]
    assert "follow_up_needs_case" in failed[0].error_message
    made = rows(engine, "SELECT tenant_id FROM tasks WHERE title LIKE 'Follow up%'")
    assert [m.tenant_id for m in made] == [with_case["t"]]
    assert count(engine, "notifications") == 2
    assert rows(engine, "SELECT count(*) FROM automation_events WHERE processed_at IS NULL") == [
        (0,)
    ]


def _effects(engine: Engine) -> tuple[int, int, int]:
    return count(engine, "automation_logs"), count(engine, "notifications"), count(engine, "tasks")


def _rules(engine: Engine, w: dict[str, Any]) -> None:
    with engine.begin() as conn:
        factory.rule(
            conn,
            w["t"],
            "task_overdue",
            {},
            [
                {"type": "notify", "recipient": "case_owner"},
                {"type": "create_task", "title": "Call the client", "due_in_hours": 4},
                {"type": "escalate", "raise_priority": True},
            ],
        )


def test_a_repeated_run_acts_once(engine: Engine, settings: Settings) -> None:
    w = setup_tenant(engine)
    _rules(engine, w)
    assert process(engine, settings, AS_OF).executed == 1
    once = _effects(engine)
    assert once == (1, 2, 2)  # notify the owner, and the escalation tells the owner too
    assert process(engine, settings, AS_OF).executed == 0
    assert process(engine, settings, AS_OF + timedelta(hours=1)).executed == 0
    assert _effects(engine) == once
    (task,) = rows(engine, "SELECT priority FROM tasks WHERE id = :id", id=w["task"])
    assert task.priority == "Critical"  # raised once, from High


def test_a_killed_run_leaves_the_event_pending_and_the_rerun_acts_once(
    engine: Engine, db_url: URL, settings: Settings
) -> None:
    w = setup_tenant(engine)
    _rules(engine, w)
    victim = create_engine(db_url, poolclass=NullPool)
    with victim.connect() as conn:
        conn.begin()
        fired = rules_engine.process_pending(conn, context(conn, settings, AS_OF))
        assert fired.executed == 1  # the actions ran inside the transaction ...
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with engine.connect() as killer:  # ... and the process dies before it commits
            killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(DBAPIError):
            conn.commit()
    victim.dispose()
    assert _effects(engine) == (0, 0, 1)
    assert rows(engine, "SELECT processed_at FROM automation_events") == [(None,)]
    assert process(engine, settings, AS_OF).executed == 1
    assert _effects(engine) == (1, 2, 2)
    assert process(engine, settings, AS_OF).executed == 0
    assert _effects(engine) == (1, 2, 2)


def test_two_runs_at_once_never_take_the_same_event(
    engine: Engine, db_url: URL, settings: Settings
) -> None:
    w = setup_tenant(engine)
    _rules(engine, w)
    first = create_engine(db_url, poolclass=NullPool)
    with first.connect() as conn:
        conn.begin()
        assert rules_engine.process_pending(conn, context(conn, settings, AS_OF)).executed == 1
        # The first run holds the event's row lock; the second skips it rather than wait.
        assert process(engine, settings, AS_OF).executed == 0
        conn.commit()
    first.dispose()
    assert process(engine, settings, AS_OF).executed == 0
    assert _effects(engine) == (1, 2, 2)


def test_one_tenants_rule_never_touches_another_tenants_rows(
    engine: Engine, settings: Settings
) -> None:
    mine, theirs = setup_tenant(engine), setup_tenant(engine)
    with engine.begin() as conn:
        admin_theirs = factory.user(conn, theirs["t"], "admin")
        # A corrupt event of my tenant naming their task must not reach it.
        event(
            conn,
            mine["t"],
            "sla_violation",
            theirs["task"],
            {"task_id": str(theirs["task"])},
            occurred_at=AS_OF,
        )
        factory.rule(
            conn,
            mine["t"],
            "sla_violation",
            {},
            [
                {"type": "escalate", "reassign_to": "case_owner", "raise_priority": True},
                {"type": "notify", "recipient": "assignee"},
                {"type": "notify", "recipient": "case_owner"},
                {"type": "notify", "recipient": "admins"},
                {"type": "create_task", "title": "Review", "due_in_hours": 2},
            ],
        )
        their_rule = factory.rule(conn, theirs["t"], "task_overdue", {}, NOTIFY_ASSIGNEE)
    before = rows(engine, "SELECT * FROM tasks WHERE id = :id", id=theirs["task"])
    fired = process(engine, settings, AS_OF)
    assert rows(engine, "SELECT * FROM tasks WHERE id = :id", id=theirs["task"]) == before
    notified = rows(engine, "SELECT tenant_id, user_id FROM notifications")
    # Only their own rule, on their own event, told their assignee; my rule told no one of theirs.
    assert {(n.tenant_id, n.user_id) for n in notified} == {(theirs["t"], theirs["assignee"])}
    assert admin_theirs not in {n.user_id for n in notified}
    (review,) = rows(
        engine, "SELECT tenant_id, case_id, assigned_to FROM tasks WHERE title = 'Review'"
    )
    assert (review.tenant_id, review.case_id, review.assigned_to) == (mine["t"], None, None)
    logs = rows(engine, "SELECT tenant_id, rule_id, event_id FROM automation_logs")
    assert {(lg.tenant_id, lg.event_id) for lg in logs if lg.rule_id == their_rule} == {
        (theirs["t"], theirs["event"])
    }
    assert fired.executed == 2  # mine on my corrupt event, theirs on their event


DEEP = '{"a": ' + "[" * 3000 + "]" * 3000 + "}"
HUGE = '{"days_overdue": ' + "9" * 5000 + "}"


@pytest.mark.parametrize("conditions", [DEEP, HUGE])
def test_a_rule_no_decoder_could_read_is_refused_by_the_database(
    engine: Engine, conditions: str
) -> None:
    w = setup_tenant(engine)
    with engine.begin() as conn, pytest.raises(DBAPIError, match="automation rule conditions"):
        conn.execute(
            text(
                "INSERT INTO automation_rules (tenant_id, name, trigger_event, conditions) "
                "VALUES (:t, 'x', 'task_overdue', CAST(:c AS jsonb))"
            ),
            {"t": w["t"], "c": conditions},
        )


@pytest.mark.parametrize("conditions", [DEEP, HUGE])
def test_a_stored_rule_no_decoder_can_read_fails_alone(
    engine: Engine, settings: Settings, conditions: str
) -> None:
    """Written before migration 006 (triggers off): logged failed, the rest carries on."""
    w = setup_tenant(engine)
    with engine.begin() as conn:
        good = factory.rule(conn, w["t"], "task_overdue", {}, NOTIFY_ASSIGNEE, name="Good")
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        bad = conn.execute(
            text(
                "INSERT INTO automation_rules (tenant_id, name, trigger_event, conditions, actions)"
                " VALUES (:t, 'Unreadable', 'task_overdue', CAST(:c AS jsonb), CAST(:a AS jsonb))"
                " RETURNING id"
            ),
            {"t": w["t"], "c": conditions, "a": '[{"type": "notify", "recipient": "assignee"}]'},
        ).scalar_one()
    fired = process(engine, settings, AS_OF)
    assert (fired.executed, fired.failed) == (2, 1)
    logs = {r.rule_id: r for r in rows(engine, "SELECT * FROM automation_logs")}
    assert logs[good].status == "success"
    assert logs[bad].status == "failed" and "cannot be read" in logs[bad].error_message
    assert count(engine, "notifications") == 1


def test_a_rule_edited_while_the_run_loads_it_is_kept_out_and_the_others_act(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine validates a rule in Python and stores its conditions from the table in
    a later statement: an edit committed in between must not reach the SQL matcher
    unchecked (a reviewer's edit to an unknown operator failed the whole practice)."""
    w = setup_tenant(engine)
    with engine.begin() as conn:
        good = factory.rule(conn, w["t"], "task_overdue", {}, NOTIFY_ASSIGNEE, name="Good")
        edited = factory.rule(
            conn, w["t"], "task_overdue", {"priority": "High"}, NOTIFY_ASSIGNEE, name="Edited"
        )
    real = rules_engine.load_rules

    def load_then_edit(conn: Any, tenants: Any) -> Any:
        loaded = real(conn, tenants)
        with engine.begin() as other:  # committed between LOAD_RULES and STORE_RULES
            other.execute(
                text("UPDATE automation_rules SET conditions = :c WHERE id = :id"),
                {"c": '{"priority": {"foo": 1}}', "id": edited},
            )
        return loaded

    monkeypatch.setattr(rules_engine, "load_rules", load_then_edit)
    fired = process(engine, settings, AS_OF)
    assert (fired.executed, fired.failed) == (2, 1)
    logs = {r.rule_id: r for r in rows(engine, "SELECT * FROM automation_logs")}
    assert logs[good].status == "success"
    assert logs[edited].status == "failed"
    assert "changed while this run loaded it" in logs[edited].error_message
    assert count(engine, "automation_events WHERE processed_at IS NULL") == 0
