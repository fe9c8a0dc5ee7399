"""The rules engine over many events: batches, one escalation step per run whatever the
path (one statement, the rule-by-rule fallback, several batches), stored rules with a
template the notification layer cannot render."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, text

from gstjobs.automation import engine as rules_engine
from gstjobs.config import Settings
from tests.conftest import AS_OF
from tests.support import factory
from tests.support.automation import context, event, process, rows

RAISE = {"type": "escalate", "raise_priority": True}


def low_task(engine: Engine) -> dict[str, Any]:
    """A tenant with an owner, an assignee, a case and a Low task, overdue."""
    with engine.begin() as conn:
        t = factory.tenant(conn)
        owner = factory.user(conn, t, "advocate")
        assignee = factory.user(conn, t, "staff")
        case = factory.case(conn, t, owner=owner, assigned_to=assignee)
        task = factory.task(
            conn,
            t,
            due=AS_OF - timedelta(days=2),
            priority="Low",
            case_id=case,
            assigned_to=assignee,
        )
    return {"t": t, "owner": owner, "assignee": assignee, "case": case, "task": task}


def emit(engine: Engine, w: dict[str, Any], event_type: str = "task_overdue") -> int:
    with engine.begin() as conn:
        return event(
            conn, w["t"], event_type, w["task"], {"task_id": str(w["task"])}, occurred_at=AS_OF
        )


def process_in_batches(engine: Engine, settings: Settings, size: int) -> rules_engine.Fired:
    with engine.begin() as conn:
        ctx = context(conn, settings, AS_OF)
        return rules_engine.process_pending(conn, ctx, batch_size=size)


def task_row(engine: Engine, w: dict[str, Any]) -> Any:
    (row,) = rows(engine, "SELECT priority, assigned_to FROM tasks WHERE id = :id", id=w["task"])
    return row


def test_fallback_by_rule_raises_a_task_one_step_only(engine: Engine, settings: Settings) -> None:
    """A failing rule sends the engine into its rule-by-rule fallback, where each escalating
    rule runs in its own statement: together they still raise the task one step."""
    w = low_task(engine)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE tasks ADD CONSTRAINT no_boom CHECK (title <> 'Boom')"))
        failing = factory.rule(
            conn,
            w["t"],
            "task_overdue",
            {},
            [{"type": "create_task", "title": "Boom", "due_in_hours": 4}],
            name="Fails",
        )
        raise_only = factory.rule(conn, w["t"], "task_overdue", {}, [RAISE], name="Raise")
        raise_and_reassign = factory.rule(
            conn,
            w["t"],
            "task_overdue",
            {},
            [{"type": "escalate", "raise_priority": True, "reassign_to": "case_owner"}],
            name="Raise and reassign",
        )
    emit(engine, w)
    fired = process(engine, settings, AS_OF)
    assert (fired.executed, fired.failed) == (3, 1)
    task = task_row(engine, w)
    assert (task.priority, task.assigned_to) == ("Medium", w["owner"])  # one step, reassigned
    logs = {r.rule_id: r for r in rows(engine, "SELECT * FROM automation_logs")}
    assert logs[failing].status == "failed"
    # The fallback runs the two escalating rules one after the other, in either order:
    # the first raises the task, the second finds it raised already.
    done = [logs[r].actions_executed[0] for r in (raise_only, raise_and_reassign)]
    assert sorted((d["priority"], d.get("priority_skipped")) for d in done) == [
        (["Low", "Medium"], None),
        (["Medium", "Medium"], "already raised in this run"),
    ]
    assert all(logs[r].status == "success" for r in (raise_only, raise_and_reassign))


def test_events_of_one_task_in_different_batches_raise_it_one_step(
    engine: Engine, settings: Settings
) -> None:
    w = low_task(engine)
    with engine.begin() as conn:
        factory.rule(conn, w["t"], "task_overdue", {}, [RAISE])
        factory.rule(conn, w["t"], "sla_violation", {}, [RAISE])
    emit(engine, w, "task_overdue")
    emit(engine, w, "sla_violation")
    assert process_in_batches(engine, settings, 1).executed == 2
    assert task_row(engine, w).priority == "Medium"
    # The next run is a new run: a new event may raise the task again, one step.
    with engine.begin() as conn:
        event(conn, w["t"], "task_overdue", w["task"], {"days_overdue": 3}, occurred_at=AS_OF)
    assert process_in_batches(engine, settings, 1).executed == 1
    assert task_row(engine, w).priority == "High"


def test_a_backlog_is_processed_batch_by_batch_exactly_once(
    engine: Engine, settings: Settings
) -> None:
    tenants = [low_task(engine) for _ in range(3)]
    for w in tenants:
        with engine.begin() as conn:
            factory.rule(
                conn, w["t"], "task_overdue", {}, [{"type": "notify", "recipient": "assignee"}]
            )
        for _ in range(3):
            emit(engine, w)
        emit(engine, w, "sla_violation")  # no rule: processed, nothing fired
    fired = process_in_batches(engine, settings, 2)
    assert (fired.executed, fired.failed) == (9, 0)
    assert rows(engine, "SELECT count(*) FROM automation_events WHERE processed_at IS NULL") == [
        (0,)
    ]
    assert rows(engine, "SELECT count(*) FROM notifications") == [(9,)]
    logged = rows(engine, "SELECT event_id, count(*) AS n FROM automation_logs GROUP BY event_id")
    assert len(logged) == 9
    assert {r.n for r in logged} == {1}
    assert process_in_batches(engine, settings, 2).executed == 0
    assert rows(engine, "SELECT count(*) FROM notifications") == [(9,)]


def test_a_stored_rule_with_an_unknown_template_is_logged_failed(
    engine: Engine, settings: Settings
) -> None:
    w = low_task(engine)
    with engine.begin() as conn:
        bad = factory.rule(
            conn,
            w["t"],
            "task_overdue",
            {},
            [{"type": "notify", "recipient": "assignee", "template": "hearing_reminder"}],
        )
    emit(engine, w)
    assert process(engine, settings, AS_OF).failed == 1
    (log,) = rows(engine, "SELECT * FROM automation_logs WHERE rule_id = :r", r=bad)
    assert log.error_message.startswith("invalid rule: actions[0].template must be one of")
    assert rows(engine, "SELECT count(*) FROM notifications") == [(0,)]
