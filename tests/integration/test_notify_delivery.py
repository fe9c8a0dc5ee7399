"""Delivery of the outbox over a real SMTP server on loopback, and the file channel."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from gstjobs.notify import claim
from gstjobs.notify.delivery import drain
from tests.support import factory
from tests.support.outbox import by_id, channel_state, db_now, folder
from tests.support.providers import scripted_smtp
from tests.support.servers import (
    SmtpServer,
    hearing_payload,
    notify_settings,
    queue,
    rows,
    smtp_server,
)


@pytest.fixture
def smtp() -> Any:
    with smtp_server() as server:
        yield server


def two_firms(engine: Engine) -> dict[str, Any]:
    with engine.begin() as conn:
        a = factory.tenant(conn, "Mehta & Associates")
        b = factory.tenant(conn, "Rao Tax Chambers")
        ua = factory.user(conn, a, name="Asha Mehta", email="asha@mehta.example")
        ub = factory.user(conn, b, name="Bala Rao", email="bala@rao.example")
        na = queue(conn, a, ua, "hearing_reminder", hearing_payload("MEHTA/APL/0001"))
        nb = queue(conn, b, ub, "hearing_reminder", hearing_payload("RAO/APL/0002"))
    return {"a": a, "b": b, "ua": ua, "ub": ub, "na": na, "nb": nb}


def test_email_reaches_its_recipient_only_with_text_html_and_stable_id(
    engine: Engine, db_url: URL, smtp: SmtpServer
) -> None:
    firms = two_firms(engine)
    settings = notify_settings(db_url, smtp.env())
    report = drain(engine, settings, [firms["a"], firms["b"]])
    assert (report.sent, report.failed, report.deferred) == (2, 0, 0)
    (to_a,) = smtp.to("asha@mehta.example")
    (to_b,) = smtp.to("bala@rao.example")
    assert to_a.mail_from == "reminders@practice.example"
    assert to_a.message["Subject"] == (
        "Hearing Reminder: MEHTA/APL/0001 - GST Appellate Tribunal, Fri, 16-01-2026, 10:30 AM IST"
    )
    assert to_a.message["Message-ID"] == f"<notification-{firms['na']}.{firms['a']}@gstjobs>"
    assert to_a.message.get_content_type() == "multipart/alternative"
    assert "Dear Asha Mehta" in to_a.text and "Mehta & Associates" in to_a.text
    assert "When:         Fri, 16-01-2026, 10:30 AM IST" in to_a.text
    assert "Mehta &amp; Associates" in to_a.html
    # Nothing of the other firm in either message.
    for mine, theirs in ((to_a, ("Bala", "Rao", "RAO/APL")), (to_b, ("Asha", "Mehta", "MEHTA/"))):
        raw = mine.message.as_string()
        assert not any(word in raw for word in theirs)
    with engine.connect() as conn:
        sent = {r.id: r for r in rows(conn)}
    assert sent[firms["na"]].status == "sent"
    assert sent[firms["na"]].provider_message_id == to_a.message["Message-ID"]
    assert sent[firms["na"]].attempts == 1


def test_only_the_given_tenants_are_delivered(
    engine: Engine, db_url: URL, smtp: SmtpServer
) -> None:
    firms = two_firms(engine)
    report = drain(engine, notify_settings(db_url, smtp.env()), [firms["a"]])
    assert report.sent == 1
    assert [m.rcpt_tos for m in smtp.messages] == [["asha@mehta.example"]]
    with engine.connect() as conn:
        status = {r.id: r.status for r in rows(conn)}
    assert status == {firms["na"]: "sent", firms["nb"]: "pending"}


def test_smtp_down_spends_no_attempt_and_when_up_sends_each_once(
    engine: Engine, db_url: URL
) -> None:
    firms = two_firms(engine)
    tenants = [firms["a"], firms["b"]]
    with smtp_server(running=False) as server:
        settings = notify_settings(db_url, server.env())
        now = db_now(engine)
        down = drain(engine, settings, tenants, now=now)
        assert (down.sent, down.failed, down.retrying, down.deferred) == (0, 0, 0, 2)
        assert [d.split(":")[0] for d in down.down] == ["email"]
        after = by_id(engine)
        assert {(r.status, r.attempts, r.claim_token) for r in after.values()} == {
            ("pending", 0, None)
        }
        assert {r.next_attempt_at for r in after.values()} == {now}  # due again at once
        # The message tried says why; one not tried (the channel had stopped) says nothing.
        assert any("unusable" in (r.last_error or "") for r in after.values())
        assert channel_state(engine, "email").state == "down"
        server.start()
        up = drain(engine, settings, tenants, now=now + timedelta(minutes=1))
        again = drain(engine, settings, tenants, now=now + timedelta(hours=1))
        assert (up.sent, up.failed, up.down, again.sent) == (2, 0, (), 0)
        assert Counter(m.message["Message-ID"] for m in server.messages) == {
            f"<notification-{firms['na']}.{firms['a']}@gstjobs>": 1,
            f"<notification-{firms['nb']}.{firms['b']}@gstjobs>": 1,
        }
    assert {(r.status, r.attempts) for r in by_id(engine).values()} == {("sent", 1)}
    assert channel_state(engine, "email").state == "ok"


def test_after_the_last_attempt_the_row_is_failed_and_never_sent(
    engine: Engine, db_url: URL
) -> None:
    firms = two_firms(engine)
    with scripted_smtp() as server:
        server.rcpt += ["450 4.2.1 Mailbox busy, try later"] * 2
        settings = notify_settings(db_url, {**server.env(), "GSTJOBS_NOTIFY_MAX_ATTEMPTS": "2"})
        now = db_now(engine)
        first = drain(engine, settings, [firms["a"]], now=now)
        # Backoff: 5 minutes after the first failed attempt (then 10, 20, … 6 hours).
        assert by_id(engine)[firms["na"]].next_attempt_at == now + timedelta(minutes=5)
        second = drain(engine, settings, [firms["a"]], now=now + timedelta(minutes=6))
        assert (first.retrying, second.retrying, second.failed) == (1, 0, 1)
        later = drain(engine, settings, [firms["a"]], now=now + timedelta(days=1))
        assert later.sent == 0 and server.messages == []
    row = by_id(engine)[firms["na"]]
    assert (row.status, row.attempts) == ("failed", 2)
    assert "450" in row.last_error and "RCPT TO" in row.last_error


def test_over_the_cap_stays_queued_and_is_reported(
    engine: Engine, db_url: URL, smtp: SmtpServer
) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        u = factory.user(conn, t, email="cap@firm.example")
        for n in range(5):
            queue(conn, t, u, "hearing_reminder", hearing_payload(f"CAP/{n}"))
    settings = notify_settings(db_url, {**smtp.env(), "GSTJOBS_NOTIFY_CAP": "2"})
    first = drain(engine, settings, [t])
    assert (first.sent, first.deferred) == (2, 3)
    with engine.connect() as conn:
        assert Counter(r.status for r in rows(conn)) == {"pending": 3, "sent": 2}
    second, third = drain(engine, settings, [t]), drain(engine, settings, [t])
    assert (second.sent, second.deferred, third.sent, third.deferred) == (2, 1, 1, 0)
    subjects = sorted(m.message["Subject"] for m in smtp.messages)
    assert subjects == [
        f"Hearing Reminder: CAP/{n} - GST Appellate Tribunal, Fri, 16-01-2026, 10:30 AM IST"
        for n in range(5)
    ]


def test_concurrent_senders_send_each_message_once(
    engine: Engine, db_url: URL, smtp: SmtpServer
) -> None:
    with engine.begin() as conn:
        tenants = [factory.tenant(conn, f"Firm {i}") for i in range(2)]
        for t in tenants:
            for n in range(30):
                u = factory.user(conn, t)
                queue(conn, t, u, "hearing_reminder", hearing_payload(f"C/{t}/{n}"))
    settings = notify_settings(db_url, smtp.env())
    reports: list[Any] = []
    barrier = threading.Barrier(4)

    def sender() -> None:
        barrier.wait()
        reports.append(drain(engine, settings, tenants))

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert sum(r.sent for r in reports) == 60
    ids = Counter(m.message["Message-ID"] for m in smtp.messages)
    assert len(ids) == 60 and set(ids.values()) == {1}
    with engine.connect() as conn:
        assert {(r.status, r.attempts) for r in rows(conn)} == {("sent", 1)}


def test_a_crashed_sender_holds_its_rows_until_the_lease_runs_out(
    engine: Engine, db_url: URL, smtp: SmtpServer
) -> None:
    firms = two_firms(engine)
    settings = notify_settings(db_url, smtp.env())
    now = db_now(engine)
    scope = claim.Scope([firms["a"]], None, None, now)
    with engine.connect() as raw:
        conn = raw.execution_options(isolation_level="AUTOCOMMIT")
        (practice,) = claim.practices(conn, scope)
        claimed = claim.take(
            conn,
            scope,
            practice,
            lowest=0,
            highest=2,
            room=10,
            stopped=[],
            token=uuid.uuid4(),
            lease=600,
        )
    assert [r.id for r in claimed] == [firms["na"]]
    # ...and the process dies here, before sending. Another sender leaves it alone:
    assert drain(engine, settings, [firms["a"]], now=now + timedelta(minutes=9)).sent == 0
    # until the lease has run out; then it goes once, with its stable Message-ID.
    assert drain(engine, settings, [firms["a"]], now=now + timedelta(minutes=11)).sent == 1
    (message,) = smtp.messages
    assert message.message["Message-ID"] == f"<notification-{firms['na']}.{firms['a']}@gstjobs>"


def test_recipient_gone_or_bad_template_fails_at_once(
    engine: Engine, db_url: URL, smtp: SmtpServer
) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        gone = factory.user(conn, t, is_active=False)
        ok = factory.user(conn, t)
        other_tenant_user = factory.user(conn, factory.tenant(conn, "Other"))
        n_gone = queue(conn, t, gone, "hearing_reminder", hearing_payload())
        n_foreign = queue(conn, t, other_tenant_user, "hearing_reminder", hearing_payload())
        n_bad = queue(conn, t, ok, "hearing_reminder", {"case_number": "X"})
        n_unknown = queue(conn, t, ok, "no_such_template", {})
    report = drain(engine, notify_settings(db_url, smtp.env()), [t])
    assert (report.sent, report.failed, report.retrying) == (0, 4, 0)
    assert smtp.messages == []
    with engine.connect() as conn:
        by_id = {r.id: r for r in rows(conn)}
    assert {by_id[n].status for n in (n_gone, n_foreign, n_bad, n_unknown)} == {"failed"}
    assert "not an active user" in by_id[n_gone].last_error
    assert "not an active user" in by_id[n_foreign].last_error
    assert "undefined" in by_id[n_bad].last_error
    assert "unknown template" in by_id[n_unknown].last_error


def test_without_smtp_email_is_written_to_files_and_nothing_personal_is_printed(
    engine: Engine,
    db_url: URL,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    firms = two_firms(engine)
    settings = notify_settings(db_url, {"GSTJOBS_OUTBOX_DIR": str(tmp_path / "outbox")})
    caplog.set_level("DEBUG")
    report = drain(engine, settings, [firms["a"], firms["b"]])
    assert report.sent == 2
    path = folder(engine, settings) / f"notification-{firms['na']}.eml"
    assert path.parent.parent == tmp_path / "outbox"
    raw = path.read_text()
    assert "To: Asha Mehta <asha@mehta.example>" in raw
    assert "Subject: Hearing Reminder: MEHTA/APL/0001" in raw
    out = capsys.readouterr()
    printed = out.out + out.err + caplog.text
    assert f"notification {firms['na']} written to {path}" in caplog.text
    for secret in ("Asha", "asha@", "Bala", "bala@", "MEHTA/APL"):
        assert secret not in printed
    row = by_id(engine)[firms["na"]]
    assert (row.status, row.provider_message_id) == ("sent", str(path))
