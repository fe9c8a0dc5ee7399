"""The SLA & overdue check on a real PostgreSQL, at its boundaries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from gstjobs.config import Settings
from gstjobs.sla import DEFAULT_SLA_HOURS
from tests.conftest import AS_OF
from tests.support import factory
from tests.support.jobs import run_job

GRACE = timedelta(minutes=15)


def flags(engine: Engine, task_id: UUID) -> Any:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT is_overdue, overdue_since, sla_breached, sla_breached_at "
                "FROM tasks WHERE id = :id"
            ),
            {"id": task_id},
        ).one()


def events(engine: Engine, event_type: str, entity: UUID | None = None) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT tenant_id, entity_id, payload FROM automation_events "
                "WHERE event_type = :t AND (CAST(:e AS uuid) IS NULL OR entity_id = :e) "
                "ORDER BY id"
            ),
            {"t": event_type, "e": entity},
        ).fetchall()


def test_grace_edge_is_exclusive(engine: Engine, settings: Settings) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        at_edge = factory.task(conn, t, due=AS_OF - GRACE)
        past_edge = factory.task(conn, t, due=AS_OF - GRACE - timedelta(seconds=1))
    outcome = run_job(settings, "sla-check", as_of=AS_OF)
    assert outcome.status == "success"
    assert not flags(engine, at_edge).is_overdue
    assert flags(engine, past_edge).is_overdue
    assert outcome.results["overdueTasks"] == 1
    assert outcome.results["newlyOverdue"] == 1
    assert [e.entity_id for e in events(engine, "task_overdue")] == [past_edge]


def test_completed_and_cancelled_tasks_are_never_overdue(
    engine: Engine, settings: Settings
) -> None:
    due = AS_OF - timedelta(days=3)
    with engine.begin() as conn:
        t = factory.tenant(conn)
        done = factory.task(conn, t, due=due, status="Completed", completed_at=due)
        cancelled = factory.task(conn, t, due=due, status="Cancelled")
        in_progress = factory.task(conn, t, due=due, status="In Progress")
    outcome = run_job(settings, "sla-check", as_of=AS_OF)
    assert outcome.results["overdueTasks"] == 1
    assert not flags(engine, done).is_overdue
    assert not flags(engine, cancelled).is_overdue
    assert flags(engine, in_progress).is_overdue


def test_event_carries_seed_trigger_data(engine: Engine, settings: Settings) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        c = factory.case(conn, t)
        # Due 23:00 IST two days before as-of (10:00 IST): two calendar days overdue.
        task = factory.task(
            conn,
            t,
            case_id=c,
            priority="Critical",
            due=AS_OF - timedelta(days=2) + timedelta(hours=13),
        )
    run_job(settings, "sla-check", as_of=AS_OF)
    (event,) = events(engine, "task_overdue")
    assert event.tenant_id == t
    assert event.payload["task_id"] == str(task)
    assert event.payload["case_id"] == str(c)
    assert event.payload["priority"] == "Critical"
    assert event.payload["days_overdue"] == 2


def test_second_run_at_same_moment_changes_nothing(engine: Engine, settings: Settings) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        factory.task(
            conn,
            t,
            due=AS_OF - timedelta(days=1),
            created=AS_OF - timedelta(days=30),
            priority="Low",
        )
        factory.task(conn, t, due=None, created=AS_OF - timedelta(days=30), priority="Low")
    first = run_job(settings, "sla-check", as_of=AS_OF)
    with engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM automation_events")).scalar_one()
        audit_before = conn.execute(
            text("SELECT count(*) FROM audit_log WHERE entity_type = 'task'")
        ).scalar_one()
    second = run_job(settings, "sla-check", as_of=AS_OF)
    with engine.connect() as conn:
        after = conn.execute(text("SELECT count(*) FROM automation_events")).scalar_one()
        audit_after = conn.execute(
            text("SELECT count(*) FROM audit_log WHERE entity_type = 'task'")
        ).scalar_one()
    assert (first.results["newlyOverdue"], first.results["slaViolations"]) == (1, 1)
    assert (second.results["newlyOverdue"], second.results["slaViolations"]) == (0, 0)
    assert second.results["overdueTasks"] == 1
    assert before == after == 2
    assert audit_before == audit_after == 2


def test_completing_or_redating_clears_flags_and_redating_opens_new_episode(
    engine: Engine, settings: Settings
) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        completed = factory.task(conn, t, due=AS_OF - timedelta(days=1))
        redated = factory.task(conn, t, due=AS_OF - timedelta(days=1))
    run_job(settings, "sla-check", as_of=AS_OF)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE tasks SET status = 'Completed', completed_at = :at WHERE id = :id"),
            {"at": AS_OF, "id": completed},
        )
        conn.execute(
            text("UPDATE tasks SET due_date = :d WHERE id = :id"),
            {"d": AS_OF + timedelta(days=2), "id": redated},
        )
    later = AS_OF + timedelta(minutes=15)
    outcome = run_job(settings, "sla-check", as_of=later)
    assert not flags(engine, completed).is_overdue
    assert not flags(engine, redated).is_overdue
    assert flags(engine, redated).overdue_since is None
    assert outcome.results["overdueTasks"] == 0
    # The re-dated task slips again: a new overdue episode, a new event.
    outcome = run_job(settings, "sla-check", as_of=AS_OF + timedelta(days=3))
    assert outcome.results["newlyOverdue"] == 1
    assert len(events(engine, "task_overdue", redated)) == 2
    assert len(events(engine, "task_overdue", completed)) == 1


def test_sla_breach_uses_tenant_policy_then_default(engine: Engine, settings: Settings) -> None:
    hours = DEFAULT_SLA_HOURS["High"]
    with engine.begin() as conn:
        t_default = factory.tenant(conn)
        t_policy = factory.tenant(conn)
        conn.execute(text("INSERT INTO sla_policies VALUES (:t, 'High', 10)"), {"t": t_policy})
        inside = factory.task(
            conn, t_default, due=None, created=AS_OF - timedelta(hours=hours)
        )  # exactly at the limit
        beyond = factory.task(
            conn, t_default, due=None, created=AS_OF - timedelta(hours=hours, seconds=1)
        )
        policy = factory.task(conn, t_policy, due=None, created=AS_OF - timedelta(hours=11))
    outcome = run_job(settings, "sla-check", as_of=AS_OF)
    assert not flags(engine, inside).sla_breached
    assert flags(engine, beyond).sla_breached
    assert flags(engine, policy).sla_breached
    assert outcome.results["slaViolations"] == 2
    (event,) = events(engine, "sla_violation", policy)
    assert event.payload["sla_threshold"] == 10
    assert float(event.payload["actual_time"]) == 11.0


def test_sla_violation_once_per_task_and_cleared_on_completion(
    engine: Engine, settings: Settings
) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        task = factory.task(
            conn, t, due=None, priority="Critical", created=AS_OF - timedelta(days=3)
        )
    run_job(settings, "sla-check", as_of=AS_OF)
    run_job(settings, "sla-check", as_of=AS_OF + timedelta(hours=1))
    assert len(events(engine, "sla_violation", task)) == 1
    with engine.begin() as conn:
        conn.execute(text("UPDATE tasks SET status = 'Completed' WHERE id = :id"), {"id": task})
    outcome = run_job(settings, "sla-check", as_of=AS_OF + timedelta(hours=2))
    assert not flags(engine, task).sla_breached
    assert outcome.results["slaViolations"] == 0


def test_tenant_filter_leaves_other_tenants_untouched(engine: Engine, settings: Settings) -> None:
    with engine.begin() as conn:
        mine, theirs = factory.tenant(conn, "Mine"), factory.tenant(conn, "Theirs")
        my_task = factory.task(conn, mine, due=AS_OF - timedelta(days=1))
        their_task = factory.task(conn, theirs, due=AS_OF - timedelta(days=1))
    outcome = run_job(settings, "sla-check", as_of=AS_OF, tenants=(mine,))
    assert outcome.results["overdueTasks"] == 1
    assert flags(engine, my_task).is_overdue
    assert not flags(engine, their_task).is_overdue
    assert {e.tenant_id for e in events(engine, "task_overdue")} == {mine}


def test_dry_run_reports_but_changes_nothing(engine: Engine, settings: Settings) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        task = factory.task(conn, t, due=AS_OF - timedelta(days=1))
    outcome = run_job(settings, "sla-check", as_of=AS_OF, dry_run=True)
    assert outcome.results["newlyOverdue"] == 1
    assert not flags(engine, task).is_overdue
    assert events(engine, "task_overdue") == []
    with engine.connect() as conn:
        audit = conn.execute(text("SELECT action_type, details FROM audit_log")).fetchall()
        run = conn.execute(text("SELECT status, dry_run FROM job_runs")).one()
    # Only the run's own record: no task rows, and it says it was a dry run.
    assert [(a.action_type, a.details["dry_run"]) for a in audit] == [
        ("background_job_execution", True)
    ]
    assert (run.status, run.dry_run) == ("success", True)


def test_one_tenants_failure_rolls_back_only_that_tenant(
    engine: Engine, settings: Settings
) -> None:
    with engine.begin() as conn:
        good, bad = factory.tenant(conn, "Good"), factory.tenant(conn, "Bad")
        good_task = factory.task(conn, good, due=AS_OF - timedelta(days=1))
        bad_task = factory.task(conn, bad, due=AS_OF - timedelta(days=1))
        # The bad tenant's events cannot be written: its statement fails in the database.
        conn.execute(
            text(
                f"""
                CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF NEW.tenant_id = '{bad}' THEN RAISE EXCEPTION 'refused for this test'; END IF;
                  RETURN NEW;
                END $$;
                CREATE TRIGGER test_refuse BEFORE INSERT ON automation_events
                  FOR EACH ROW EXECUTE FUNCTION test_refuse();
                """
            )
        )
    outcome = run_job(settings, "sla-check", as_of=AS_OF)
    assert outcome.status == "failed"
    assert outcome.exit_code == 1
    assert outcome.failed_tenants == (bad,)
    assert str(bad) in (outcome.error or "")
    assert flags(engine, good_task).is_overdue
    assert not flags(engine, bad_task).is_overdue
    assert outcome.results["overdueTasks"] == 1
    with engine.connect() as conn:
        recorded = conn.execute(text("SELECT status, error FROM job_runs")).one()
    assert recorded.status == "failed" and str(bad) in recorded.error


def test_a_practice_with_an_unreadable_time_zone_fails_alone_and_is_never_run(
    engine: Engine, settings: Settings
) -> None:
    """PostgreSQL reads IST as Israel: run in it, a practice's dates would be hours off."""
    with engine.begin() as conn:
        good, bad = factory.tenant(conn, "Good"), factory.tenant(conn, "Bad", timezone="IST")
        good_task = factory.task(conn, good, due=AS_OF - timedelta(days=1))
        bad_task = factory.task(conn, bad, due=AS_OF - timedelta(days=1))
    outcome = run_job(settings, "sla-check", as_of=AS_OF)
    assert outcome.status == "failed" and outcome.failed_tenants == (bad,)
    assert "IST" in (outcome.error or "") and "Asia/Kolkata" in (outcome.error or "")
    assert flags(engine, good_task).is_overdue
    assert not flags(engine, bad_task).is_overdue
    with engine.begin() as conn, pytest.raises(IntegrityError, match="IANA"):
        conn.execute(text("UPDATE tenants SET timezone = '+05:30' WHERE id = :id"), {"id": good})


def test_clearing_the_due_date_clears_the_flag(engine: Engine, settings: Settings) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        task = factory.task(
            conn, t, due=AS_OF - timedelta(days=1), created=AS_OF - timedelta(days=5)
        )
        undated = factory.task(conn, t, due=None, created=AS_OF - timedelta(days=5))
    run_job(settings, "sla-check", as_of=AS_OF)
    assert flags(engine, task).is_overdue and not flags(engine, task).sla_breached
    assert flags(engine, undated).sla_breached
    with engine.begin() as conn:
        conn.execute(text("UPDATE tasks SET due_date = NULL WHERE id = :id"), {"id": task})
        # A longer SLA clears the breach in the same pass as the overdue flag.
        conn.execute(text("INSERT INTO sla_policies VALUES (:t, 'High', 1000)"), {"t": t})
    outcome = run_job(settings, "sla-check", as_of=AS_OF + timedelta(minutes=15))
    assert outcome.status == "success", outcome.error
    assert flags(engine, task).is_overdue is False
    assert flags(engine, task).sla_breached is False
    assert flags(engine, undated).sla_breached is False
    assert outcome.results["overdueTasks"] == 0


def test_a_run_at_an_earlier_moment_never_undoes_what_later_runs_saw(
    engine: Engine, settings: Settings
) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        task = factory.task(
            conn, t, due=AS_OF - timedelta(hours=1), created=AS_OF - timedelta(days=10)
        )
        undated = factory.task(conn, t, due=None, created=AS_OF - timedelta(days=10))
    run_job(settings, "sla-check", as_of=AS_OF)
    before, before_sla = flags(engine, task), flags(engine, undated)
    assert before.is_overdue and before_sla.sla_breached
    earlier = run_job(settings, "sla-check", as_of=AS_OF - timedelta(days=9))
    assert earlier.results["flagsCleared"] == 0
    after, after_sla = flags(engine, task), flags(engine, undated)
    assert (after.is_overdue, after.overdue_since) == (True, before.overdue_since)
    assert (after_sla.sla_breached, after_sla.sla_breached_at) == (True, before_sla.sla_breached_at)


def test_sla_is_time_to_first_action_and_a_dated_task_is_judged_by_its_date(
    engine: Engine, settings: Settings
) -> None:
    """Issue 12: a Critical reply due in 20 days is not in breach for being open; an
    undated Critical task no one has started for longer than its threshold is."""
    hours = DEFAULT_SLA_HOURS["Critical"]
    long_ago = AS_OF - timedelta(hours=hours + 5)
    with engine.begin() as conn:
        t = factory.tenant(conn)
        due_later = factory.task(
            conn, t, due=AS_OF + timedelta(days=20), created=long_ago, priority="Critical"
        )
        untouched = factory.task(conn, t, due=None, created=long_ago, priority="Critical")
        in_progress = factory.task(
            conn, t, due=None, created=long_ago, priority="Critical", status="In Progress"
        )
        started = factory.task(conn, t, due=None, created=long_ago, priority="Critical")
        conn.execute(
            text("UPDATE tasks SET started_at = :at WHERE id = :id"),
            {"at": long_ago + timedelta(hours=1), "id": started},
        )
    outcome = run_job(settings, "sla-check", as_of=AS_OF)
    assert outcome.results["slaViolations"] == 1
    assert [e.entity_id for e in events(engine, "sla_violation")] == [untouched]
    assert not flags(engine, due_later).sla_breached
    assert not flags(engine, in_progress).sla_breached
    assert not flags(engine, started).sla_breached
    # Twenty days on, the dated task is overdue, still never an SLA breach.
    later = run_job(settings, "sla-check", as_of=AS_OF + timedelta(days=21))
    assert flags(engine, due_later).is_overdue and not flags(engine, due_later).sla_breached
    assert later.results["slaViolations"] == 0
    # The breach clears once someone starts the task.
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE tasks SET status = 'In Progress' WHERE id = :id"), {"id": untouched}
        )
    run_job(settings, "sla-check", as_of=AS_OF + timedelta(days=21, minutes=15))
    assert not flags(engine, untouched).sla_breached


def test_a_closed_matter_raises_nothing_and_its_old_flags_are_cleared(
    engine: Engine, settings: Settings
) -> None:
    long_ago = AS_OF - timedelta(days=30)
    with engine.begin() as conn:
        t = factory.tenant(conn)
        closed = factory.case(conn, t)
        live = factory.case(conn, t)
        conn.execute(text("UPDATE cases SET status = 'Closed' WHERE id = :id"), {"id": closed})
        in_closed = [
            factory.task(conn, t, due=AS_OF - timedelta(days=2), case_id=closed),
            factory.task(conn, t, due=None, created=long_ago, case_id=closed),
        ]
        live_overdue = factory.task(conn, t, due=AS_OF - timedelta(days=2), case_id=live)
        live_unstarted = factory.task(conn, t, due=None, created=long_ago, case_id=live)
    outcome = run_job(settings, "sla-check", as_of=AS_OF)
    assert (outcome.results["newlyOverdue"], outcome.results["slaViolations"]) == (1, 1)
    raised = {e.entity_id for e in events(engine, "task_overdue")} | {
        e.entity_id for e in events(engine, "sla_violation")
    }
    assert raised == {live_overdue, live_unstarted}
    assert not any(flags(engine, x).is_overdue or flags(engine, x).sla_breached for x in in_closed)
    # The live matter closes: its flags go on the next run, and nothing new is raised.
    with engine.begin() as conn:
        conn.execute(text("UPDATE cases SET status = 'Closed' WHERE id = :id"), {"id": live})
    tick = run_job(settings, "sla-check", as_of=AS_OF + timedelta(minutes=15))
    assert tick.results["flagsCleared"] == 2
    assert (tick.results["overdueTasks"], tick.results["openSlaBreaches"]) == (0, 0)
    for x in (live_overdue, live_unstarted):
        f = flags(engine, x)
        assert (f.is_overdue, f.overdue_since, f.sla_breached, f.sla_breached_at) == (
            False,
            None,
            False,
            None,
        )
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM automation_events")).scalar_one() == 2


def test_a_reopened_matter_is_watched_again(engine: Engine, settings: Settings) -> None:
    """Closed, its past-due task is left alone tick after tick; reopened, the next tick
    flags it and raises its event."""
    with engine.begin() as conn:
        t = factory.tenant(conn)
        matter = factory.case(conn, t)
        task = factory.task(conn, t, due=AS_OF - timedelta(days=3), case_id=matter)
        conn.execute(text("UPDATE cases SET status = 'Closed' WHERE id = :id"), {"id": matter})
    for minutes in (0, 15):
        tick = run_job(settings, "sla-check", as_of=AS_OF + timedelta(minutes=minutes))
        assert (tick.results["newlyOverdue"], tick.results["overdueTasks"]) == (0, 0)
    with engine.begin() as conn:
        conn.execute(text("UPDATE cases SET status = 'Active' WHERE id = :id"), {"id": matter})
    tick = run_job(settings, "sla-check", as_of=AS_OF + timedelta(minutes=30))
    assert (tick.results["newlyOverdue"], tick.results["overdueTasks"]) == (1, 1)
    assert flags(engine, task).is_overdue
    assert [e.entity_id for e in events(engine, "task_overdue")] == [task]


def test_a_task_added_while_its_matter_is_reopened_is_watched(
    engine: Engine, settings: Settings
) -> None:
    """Whether a matter is closed is read from ``cases`` at each run, never remembered
    on the task: a copy kept by triggers (tried, reverted) went stale when a task was
    added while another transaction reopened its matter, and the task was never flagged."""
    with engine.begin() as conn:
        t = factory.tenant(conn)
        matter = factory.case(conn, t, status="Closed")
    with engine.connect() as reopen:
        tx = reopen.begin()
        reopen.execute(text("UPDATE cases SET status = 'Active' WHERE id = :id"), {"id": matter})
        with engine.begin() as conn:
            task = factory.task(conn, t, due=AS_OF - timedelta(days=3), case_id=matter)
        tx.commit()
    for minutes in (0, 15):
        run_job(settings, "sla-check", as_of=AS_OF + timedelta(minutes=minutes))
    assert flags(engine, task).is_overdue
    assert [e.entity_id for e in events(engine, "task_overdue")] == [task]
