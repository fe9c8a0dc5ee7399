"""The deliver job through the runner, the queuing jobs' own sending, and notify retry."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from gstjobs import migrate
from gstjobs.notify import record
from gstjobs.notify.delivery import drain
from tests.conftest import AS_OF
from tests.support import factory
from tests.support.jobs import run_job
from tests.support.outbox import by_id, db_now, folder, put
from tests.support.providers import cloud_api
from tests.support.servers import hearing_payload, notify_settings, smtp_server


def backlog(engine: Engine, n: int, *, template: str = "hearing_reminder") -> Any:
    """A practice with ``n`` messages queued by an earlier run."""
    with engine.begin() as conn:
        t = factory.tenant(conn, "Mehta & Associates")
        u = factory.user(conn, t, email="asha@mehta.example")
        for i in range(n):
            put(conn, t, u, template, hearing_payload(f"OLD/{i}"))
    return t


def test_deliver_runs_like_every_job_and_dry_run_changes_nothing(
    cli: Any, engine: Engine, tmp_path: Path
) -> None:
    backlog(engine, 3)
    before = by_id(engine)
    dry = cli("run", "deliver", "--dry-run", "--json")
    assert dry.code == 0, dry.stderr
    doc = dry.json()
    assert (doc["job"], doc["dryRun"], doc["status"]) == ("deliver-notifications", True, "success")
    assert doc["results"]["notificationsSent"] == 3  # would be sent: rendered and counted
    assert by_id(engine) == before
    assert not (tmp_path / "data" / "outbox").exists()  # nothing written
    real = cli("run", "deliver", "--json")
    assert real.code == 0, real.stderr
    doc = real.json()
    assert doc["results"]["notificationsSent"] == 3 and doc["results"]["messagesSent"] == 3
    assert set(doc) >= {"success", "job", "executedAt", "results", "executionTime", "runId"}
    with engine.connect() as conn:
        runs = conn.execute(
            text("SELECT status, dry_run FROM job_runs WHERE job_name = 'deliver-notifications'")
        ).fetchall()
        audit = conn.execute(
            text(
                "SELECT details FROM audit_log WHERE action_type = 'background_job_execution' "
                "AND details ->> 'job_name' = 'deliver-notifications' ORDER BY timestamp"
            )
        ).scalars()
        audit_rows = list(audit)
    assert sorted(runs) == [("success", False), ("success", True)]
    assert [a["notifications_sent"] for a in audit_rows] == [3, 3]
    assert audit_rows[0]["dry_run"] is True


def test_deliver_with_a_channel_down_fails_with_one_line_naming_it(
    cli: Any, engine: Engine
) -> None:
    t = backlog(engine, 2)
    with smtp_server(running=False) as down:
        result = cli("-q", "run", "deliver", "--tenant", str(t), env=down.env())
        listed = cli("notify", "list", "--json", env=down.env()).json()
    assert result.code == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("gstjobs: deliver failed: email channel unusable:")
    assert "asha@" not in result.stderr
    (email,) = [c for c in listed["channels"] if c["channel"] == "email"]
    assert email["state"] == "down"


def test_notify_send_is_the_deliver_run_and_skips_while_one_holds_the_lock(
    cli: Any, engine: Engine, db_url: URL
) -> None:
    backlog(engine, 1)
    with create_engine(db_url, poolclass=NullPool).connect() as holder:
        holder.execute(
            text("SELECT pg_advisory_lock(hashtext('gstjobs'), hashtext('deliver-notifications'))")
        )
        skipped = cli("notify", "send", "--json")
        holder.rollback()
    assert skipped.code == 0 and skipped.json()["status"] == "skipped"
    sent = cli("notify", "send", "--json")
    doc = sent.json()
    assert (doc["status"], doc["results"]["notificationsSent"], doc["tenants"]) == ("success", 1, 1)
    with engine.connect() as conn:
        triggers = conn.execute(text("SELECT trigger, status FROM job_runs ORDER BY id")).fetchall()
    assert triggers == [("manual", "skipped"), ("manual", "success")]


def test_no_job_sends_another_runs_backlog(engine: Engine, db_url: URL) -> None:
    t = backlog(engine, 300)
    with engine.begin() as conn:
        owner = factory.user(conn, t, "admin", email="owner@mehta.example")
        case = factory.case(conn, t, owner=owner, number="GST/APL/9")
        factory.hearing(conn, t, case, AS_OF + timedelta(hours=3))
    outcome = run_job(notify_settings(db_url), "hearing-reminders", as_of=AS_OF)
    results = outcome.results
    assert (results["notificationsQueued"], results["notificationsSent"]) == (1, 1)
    assert "deliverySeconds" in results
    rows = by_id(engine)
    # The 300 older rows were not touched: not claimed, not sent, no attempt spent.
    assert Counter_of(rows) == {("pending", 0): 300, ("sent", 1): 1}
    with engine.connect() as conn:
        took = conn.execute(
            text("SELECT duration_ms FROM job_runs WHERE job_name = 'send-hearing-reminders'")
        ).scalar_one()
    assert took <= outcome.duration_s * 1000 + 50  # the job's time, without sending


def Counter_of(rows: dict[int, Any]) -> dict[tuple[str, int], int]:
    out: dict[tuple[str, int], int] = {}
    for r in rows.values():
        out[(r.status, r.attempts)] = out.get((r.status, r.attempts), 0) + 1
    return out


def test_a_send_budget_of_zero_leaves_a_jobs_rows_to_the_deliver_job(
    engine: Engine, db_url: URL
) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        owner = factory.user(conn, t, "admin", email="owner@firm.example")
        factory.hearing(conn, t, factory.case(conn, t, owner=owner), AS_OF + timedelta(hours=3))
    settings = notify_settings(db_url, {"GSTJOBS_SEND_BUDGET": "0"})
    outcome = run_job(settings, "hearing-reminders", as_of=AS_OF)
    assert (outcome.results["notificationsQueued"], outcome.results["notificationsSent"]) == (1, 0)
    assert run_job(settings, "deliver").results["notificationsSent"] == 1


def test_the_run_deadline_defers_what_it_cannot_send(engine: Engine, db_url: URL) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        for i in range(8):
            u = factory.user(conn, t, phone=f"+9198000000{i:02d}", whatsapp_opt_in=True)
            put(conn, t, u, "hearing_reminder", hearing_payload(f"D/{i}"), channel="whatsapp")
    with cloud_api() as api:
        api.script += [("stall", 0.6)] * 8
        env = {**api.env(timeout=5), "GSTJOBS_DELIVERY_DEADLINE": "1"}
        began = time.monotonic()
        outcome = run_job(notify_settings(db_url, env), "deliver")
        took = time.monotonic() - began
    results = outcome.results
    assert outcome.status == "success"
    assert results["notificationsSent"] in (1, 2, 3)  # one on a loaded machine
    assert results["notificationsDeferred"] == 8 - results["notificationsSent"]
    assert took < 1 + 5  # the deadline, plus at most one send's grace
    assert {r.attempts for r in by_id(engine).values() if r.status == "pending"} == {0}


def test_each_message_costs_one_statement_its_outcome(
    engine: Engine, db_url: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[bytes] = []
    original = record.Recorder._write

    def counting(self: Any, sql: bytes, *args: Any) -> None:
        writes.append(sql)
        original(self, sql, *args)

    monkeypatch.setattr(record.Recorder, "_write", counting)
    with engine.begin() as conn:
        t = factory.tenant(conn)
        ok, gone = factory.user(conn, t), factory.user(conn, t, is_active=False)
        for i in range(7):
            put(conn, t, gone if i == 0 else ok, "hearing_reminder", hearing_payload(f"S/{i}"))
    report = drain(engine, notify_settings(db_url), [t])
    assert (report.sent, report.failed) == (6, 1)
    assert writes.count(record.MARK_SENT) == 6 and writes.count(record.MARK_FAILED) == 1
    assert len(writes) == 7


@pytest.fixture
def second_db(admin_url: URL, template_db: str) -> Iterator[URL]:
    name = f"gstjobs_t2_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"'))
    yield admin_url.set(database=name)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_a_second_databases_file_channel_never_touches_the_firsts_files(
    engine: Engine, db_url: URL, second_db: URL, tmp_path: Path
) -> None:
    other = create_engine(second_db, poolclass=NullPool)
    migrate.upgrade(other)
    shared = {"GSTJOBS_OUTBOX_DIR": str(tmp_path / "outbox")}
    settings = {db: notify_settings(db, shared) for db in (db_url, second_db)}
    firsts = backlog(engine, 2)
    drain(engine, settings[db_url], [firsts])
    mine = folder(engine, settings[db_url])
    before = {p.name: p.read_bytes() for p in mine.iterdir()}
    assert sorted(before) == ["notification-1.eml", "notification-2.eml"]
    seconds = backlog(other, 2)  # the same notification ids, 1 and 2
    assert drain(other, settings[second_db], [seconds]).sent == 2
    theirs = folder(other, settings[second_db])
    assert theirs != mine and theirs.parent == mine.parent
    assert {p.name: p.read_bytes() for p in mine.iterdir()} == before
    assert sorted(p.name for p in theirs.iterdir()) == ["notification-1.eml", "notification-2.eml"]
    for path in (mine, theirs):
        assert path.stat().st_mode & 0o777 == 0o700
        assert {p.stat().st_mode & 0o777 for p in path.iterdir()} == {0o600}
    other.dispose()


def test_notify_retry_requeues_failed_and_backing_off_rows_and_says_so(
    cli: Any, engine: Engine
) -> None:
    t = backlog(engine, 4)
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE notifications SET status = 'failed', attempts = 5, last_error = 'x' "
                "WHERE id IN (1, 2)"
            )
        )
        conn.execute(
            text(
                "UPDATE notifications SET attempts = 2, next_attempt_at = now() + interval '1 h' "
                "WHERE id = 3"
            )
        )
    backing_off = cli("notify", "retry", "--json")
    assert backing_off.code == 0, backing_off.stderr
    assert backing_off.json()["ids"] == [3]
    one = cli("notify", "retry", "--id", "1", "--json").json()
    assert (one["ids"], one["fromFailed"]) == ([1], 1)
    rest = cli("notify", "retry", "--failed", "--channel", "email", "--tenant", str(t), "--json")
    assert rest.json()["ids"] == [2]
    rows = by_id(engine)
    assert [(rows[i].status, rows[i].attempts) for i in (1, 2, 3)] == [
        ("pending", 0),
        ("pending", 0),
        ("pending", 2),
    ]
    assert all(rows[i].next_attempt_at <= db_now(engine) for i in (1, 2, 3))
    with engine.connect() as conn:
        audited = conn.execute(
            text(
                "SELECT tenant_id, details FROM audit_log "
                "WHERE action_type = 'notification_retry' ORDER BY timestamp"
            )
        ).fetchall()
    assert [a.details["notification_ids"] for a in audited] == [[3], [1], [2]]
    assert {a.tenant_id for a in audited} == {t}
    unknown = cli("notify", "retry", "--id", "999")
    assert unknown.code == 2 and unknown.stderr.count("\n") == 1
    bad = cli("notify", "retry", "--channel", "pigeon")
    assert bad.code == 2 and "--channel" in bad.stderr


def test_notify_list_says_where_the_files_are(cli: Any, engine: Engine, tmp_path: Path) -> None:
    backlog(engine, 1)
    cli("notify", "send")
    listed = cli("notify", "list", "--json").json()
    folder_ = Path(listed["outboxDir"])
    assert folder_.parent == tmp_path / "data" / "outbox"
    assert (folder_ / "notification-1.eml").is_file()
    table = cli("notify", "list")
    assert str(folder_) in table.stdout and "channels" in table.stdout
    assert json.dumps(listed).count("asha@") == 0


def test_a_dry_run_of_hearing_reminders_sends_nothing(engine: Engine, db_url: URL) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        owner = factory.user(conn, t, "admin")
        factory.hearing(conn, t, factory.case(conn, t, owner=owner), AS_OF + timedelta(hours=3))
    outcome = run_job(notify_settings(db_url), "hearing-reminders", as_of=AS_OF, dry_run=True)
    assert outcome.results["notificationsSent"] == 0 and by_id(engine) == {}
