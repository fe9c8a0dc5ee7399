"""Failures by kind, per channel, against scripted providers on loopback.

WhatsApp: a loopback HTTP/1.1 server playing the Cloud API (190, 401, 429 with
Retry-After, 130429, 132000, 131026, a 302, a 2xx without id, a drip-fed answer, a
stall). SMTP: aiosmtpd with scripted replies, and a hand-written server that greets
with 421 or one byte at a time.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from gstjobs.notify.delivery import drain
from tests.support import factory
from tests.support.jobs import run_job
from tests.support.outbox import by_id, channel_state, db_now, put
from tests.support.providers import CloudApi, cloud_api, meta_error, raw_smtp, scripted_smtp
from tests.support.servers import hearing_payload, notify_settings

TOKEN = "EAAG-secret-token-123"
PHONE = "+919812345678"


@pytest.fixture
def api() -> Any:
    with cloud_api() as server:
        yield server


def whatsapp_rows(engine: Engine, n: int = 3) -> tuple[Any, list[int]]:
    with engine.begin() as conn:
        t = factory.tenant(conn, "Mehta & Associates")
        ids = []
        for i in range(n):
            u = factory.user(conn, t, phone=f"+9198123456{i:02d}", whatsapp_opt_in=True)
            payload = hearing_payload(f"WA/{i}")
            ids.append(put(conn, t, u, "hearing_reminder", payload, channel="whatsapp"))
    return t, ids


def case_numbers(api: CloudApi) -> list[str]:
    return [r.body["template"]["components"][0]["parameters"][0]["text"] for r in api.requests]


@pytest.mark.parametrize(
    "answer",
    [
        (401, meta_error(190, "Error validating access token: Session has expired")),
        (401, {"error": {"message": "Invalid OAuth access token", "type": "OAuthException"}}),
        (403, meta_error(10, "Application does not have permission for this action")),
    ],
    ids=["190", "401", "403"],
)
def test_a_token_outage_stops_the_channel_and_spends_no_attempt(
    engine: Engine, db_url: URL, api: CloudApi, answer: tuple[Any, ...]
) -> None:
    _, _ = whatsapp_rows(engine)
    api.script += [answer] * 5
    settings = notify_settings(db_url, api.env(TOKEN))
    outcome = run_job(settings, "deliver")
    assert outcome.status == "failed" and outcome.exit_code == 1
    assert outcome.error is not None and outcome.error.startswith("whatsapp channel unusable: HTTP")
    assert "\n" not in outcome.error and TOKEN not in outcome.error
    assert len(api.requests) == 1  # the rest were not tried
    rows = by_id(engine)
    assert {(r.status, r.attempts, r.claim_token) for r in rows.values()} == {("pending", 0, None)}
    assert outcome.results["notificationsDeferred"] == 3
    assert outcome.results["channelsDown"] == ["whatsapp"]
    state = channel_state(engine, "whatsapp")
    assert state.state == "down" and TOKEN not in state.reason


def test_a_token_outage_longer_than_the_retry_schedule_loses_nothing(
    engine: Engine, db_url: URL, api: CloudApi
) -> None:
    t, _ = whatsapp_rows(engine)
    settings = notify_settings(db_url, {**api.env(TOKEN), "GSTJOBS_NOTIFY_MAX_ATTEMPTS": "2"})
    now = db_now(engine)
    for hour in range(8):  # a day's worth of runs, well past two attempts' backoff
        api.script.append((401, meta_error(190, "Session has expired")))
        report = drain(engine, settings, [t], now=now + timedelta(hours=hour))
        assert (report.sent, report.failed, report.deferred) == (0, 0, 3)
    fixed = drain(engine, settings, [t], now=now + timedelta(hours=9))
    assert (fixed.sent, fixed.failed, fixed.down) == (3, 0, ())
    assert sorted(case_numbers(api)[8:]) == ["WA/0", "WA/1", "WA/2"]
    assert {(r.status, r.attempts) for r in by_id(engine).values()} == {("sent", 1)}
    assert channel_state(engine, "whatsapp").state == "ok"


@pytest.mark.parametrize(
    ("answer", "pause"),
    [
        ((429, meta_error(130429, "Rate limit hit"), {"Retry-After": "120"}), 120),
        ((400, meta_error(130429, "(#130429) Rate limit hit")), 60),
        ((429, {"error": {"message": "Too many calls", "code": 4}}), 60),
    ],
    ids=["429-retry-after", "130429", "429"],
)
def test_a_rate_limit_pauses_the_channel_without_spending_attempts(
    engine: Engine, db_url: URL, api: CloudApi, answer: tuple[Any, ...], pause: int
) -> None:
    t, _ = whatsapp_rows(engine)
    api.script.append(answer)
    settings = notify_settings(db_url, api.env(TOKEN))
    now = db_now(engine)
    first = drain(engine, settings, [t], now=now)
    assert (first.sent, first.failed, first.deferred, first.down) == (0, 0, 0, ())
    rows = by_id(engine)
    assert {(r.status, r.attempts) for r in rows.values()} == {("pending", 0)}
    assert {r.next_attempt_at for r in rows.values()} == {now + timedelta(seconds=pause)}
    state = channel_state(engine, "whatsapp")
    assert (state.state, state.paused_until) == ("paused", now + timedelta(seconds=pause))
    early = drain(engine, settings, [t], now=now + timedelta(seconds=pause - 1))
    assert early.sent == 0 and len(api.requests) == 1  # paused: not even tried
    later = drain(engine, settings, [t], now=now + timedelta(seconds=pause + 1))
    assert later.sent == 3 and channel_state(engine, "whatsapp").state == "ok"


@pytest.mark.parametrize(
    "answer",
    [
        (400, meta_error(132000, "Number of parameters does not match the expected number")),
        (400, meta_error(131026, "Message undeliverable")),
    ],
    ids=["132000", "131026"],
)
def test_a_message_the_provider_refuses_for_good_fails_at_once_and_the_rest_goes(
    engine: Engine, db_url: URL, api: CloudApi, answer: tuple[Any, ...]
) -> None:
    t, _ = whatsapp_rows(engine)
    api.script.append(answer)
    report = drain(engine, notify_settings(db_url, api.env(TOKEN)), [t])
    assert (report.sent, report.failed, report.retrying) == (2, 1, 0)
    rows = by_id(engine)
    failed = [r for r in rows.values() if r.status == "failed"]
    assert len(failed) == 1 and failed[0].attempts == 1
    assert failed[0].last_error.startswith(f"HTTP 400: (#{answer[1]['error']['code']})")
    assert PHONE[-6:] not in failed[0].last_error


def test_a_redirect_is_followed_nowhere_and_stops_the_channel(
    engine: Engine, db_url: URL, api: CloudApi
) -> None:
    _, _ = whatsapp_rows(engine)
    with cloud_api() as elsewhere:
        api.script.append(("redirect", f"http://127.0.0.1:{elsewhere.port}/steal"))
        outcome = run_job(notify_settings(db_url, api.env(TOKEN)), "deliver")
        assert elsewhere.requests == []  # neither the message nor the token went there
    assert outcome.status == "failed"
    assert outcome.error is not None and "HTTP 302" in outcome.error
    assert "follows no redirect" in outcome.error
    assert {(r.status, r.attempts) for r in by_id(engine).values()} == {("pending", 0)}


def test_a_2xx_without_a_message_id_is_sent_unconfirmed_and_never_resent(
    engine: Engine, db_url: URL, api: CloudApi
) -> None:
    t, ids = whatsapp_rows(engine, 1)
    api.script.append(("no-id",))
    settings = notify_settings(db_url, api.env(TOKEN))
    report = drain(engine, settings, [t])
    assert (report.sent, report.unconfirmed, report.failed) == (1, 1, 0)
    row = by_id(engine)[ids[0]]
    assert (row.status, row.provider_message_id) == ("sent", None)
    assert "without a message id" in row.last_error
    assert drain(engine, settings, [t], now=db_now(engine) + timedelta(days=1)).sent == 0
    assert len(api.requests) == 1


def test_two_senders_and_a_drip_feed_never_send_a_message_twice(
    engine: Engine, db_url: URL, api: CloudApi
) -> None:
    import threading

    t, _ = whatsapp_rows(engine, 6)
    api.script += [("drip", 0.05)] * 6  # the answer takes ~6 s a byte at a time
    settings = notify_settings(db_url, api.env(TOKEN, timeout=1, connections=2))
    reports: list[Any] = []
    barrier = threading.Barrier(2)

    def sender() -> None:
        barrier.wait()
        reports.append(drain(engine, settings, [t]))

    began = time.monotonic()
    threads = [threading.Thread(target=sender) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    took = time.monotonic() - began
    # Each send is cut at its 1 s deadline: the API had answered 200, so the message
    # was accepted (its id unknown), is recorded sent, and nobody sends it again.
    assert sorted(case_numbers(api)) == [f"WA/{i}" for i in range(6)]
    assert sum(r.sent for r in reports) == 6 and sum(r.unconfirmed for r in reports) == 6
    assert {(r.status, r.provider_message_id) for r in by_id(engine).values()} == {("sent", None)}
    assert took < 6 * 6  # a drip-fed answer never holds a send past its deadline


def test_a_stalled_api_costs_one_attempt_and_stops_the_channel_for_the_run(
    engine: Engine, db_url: URL, api: CloudApi
) -> None:
    t, _ = whatsapp_rows(engine, 4)
    api.script.append(("stall", 5))
    settings = notify_settings(db_url, api.env(TOKEN, timeout=1))
    began = time.monotonic()
    report = drain(engine, settings, [t])
    assert time.monotonic() - began < 4
    assert (report.sent, report.failed, report.retrying, report.deferred) == (0, 1, 1, 3)
    rows = sorted(by_id(engine).values(), key=lambda r: r.attempts)
    assert [(r.status, r.attempts) for r in rows] == [("pending", 0)] * 3 + [("pending", 1)]
    assert "did not answer within 1s" in rows[-1].last_error


# ---------------------------------------------------------------- SMTP
def email_rows(engine: Engine, n: int = 3) -> tuple[Any, list[int]]:
    with engine.begin() as conn:
        t = factory.tenant(conn, "Mehta & Associates")
        ids = []
        for i in range(n):
            u = factory.user(conn, t, email=f"user{i}@mehta.example")
            ids.append(put(conn, t, u, "hearing_reminder", hearing_payload(f"EM/{i}")))
    return t, ids


def test_smtp_greeting_421_is_a_channel_down(engine: Engine, db_url: URL) -> None:
    t, _ = email_rows(engine)
    with raw_smtp("greet-421") as port:
        env = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_SECURITY": "none"}
        report = drain(engine, notify_settings(db_url, {**env, "SMTP_FROM": "r@p.example"}), [t])
    assert report.down and report.down[0].startswith("email: SMTP server 127.0.0.1:")
    assert "421" in report.down[0]
    assert {(r.status, r.attempts) for r in by_id(engine).values()} == {("pending", 0)}


def test_implicit_tls_is_attempted_and_a_plain_server_is_a_channel_down(
    engine: Engine, db_url: URL
) -> None:
    """SMTP_SECURITY=ssl: the TLS handshake is made with the host's name (smtplib took
    it from its constructor only, so every such connection failed with 'check_hostname
    requires server_hostname' and was retried for ever, found by the settings fuzz).
    Against a server that speaks plain SMTP it fails the handshake: channel down."""
    t, _ = email_rows(engine, 1)
    with raw_smtp("greet-421") as port:
        env = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_SECURITY": "ssl"}
        report = drain(engine, notify_settings(db_url, {**env, "SMTP_FROM": "r@p.example"}), [t])
    assert report.down and report.down[0].startswith("email: SMTP server 127.0.0.1:")
    assert "server_hostname" not in report.down[0]
    assert "SSL" in report.down[0] or "ssl" in report.down[0], report.down[0]
    assert {(r.status, r.attempts) for r in by_id(engine).values()} == {("pending", 0)}


def test_smtp_login_refused_is_a_channel_down_and_the_password_is_never_shown(
    engine: Engine, db_url: URL
) -> None:
    _, _ = email_rows(engine)
    with scripted_smtp(auth=True) as server:
        env = server.env(SMTP_USERNAME="mailer", SMTP_PASSWORD="hunter2-secret")
        outcome = run_job(notify_settings(db_url, env), "deliver")
    assert outcome.status == "failed"
    assert outcome.error is not None and outcome.error.startswith("email channel unusable:")
    assert "535" in outcome.error and "hunter2-secret" not in outcome.error
    assert {(r.status, r.attempts) for r in by_id(engine).values()} == {("pending", 0)}


def test_smtp_dribbling_its_greeting_is_cut_at_the_deadline(engine: Engine, db_url: URL) -> None:
    t, _ = email_rows(engine, 1)
    with raw_smtp("drip", delay=0.4) as port:  # each read is quick; the whole is not
        env = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_SECURITY": "none"}
        settings = notify_settings(db_url, {**env, "SMTP_FROM": "r@p.example", "SMTP_TIMEOUT": "1"})
        began = time.monotonic()
        report = drain(engine, settings, [t])
        took = time.monotonic() - began
    assert took < 4
    assert report.down and "did not answer in time" in report.down[0]


def test_smtp_reply_codes_decide_between_failed_paused_and_sent(
    engine: Engine, db_url: URL
) -> None:
    t, ids = email_rows(engine, 3)
    with scripted_smtp() as server:
        server.rcpt += ["550 5.1.1 No such user here", "250 OK", "451 4.7.1 Rate limited"]
        server.data += ["554 5.6.0 Message refused"]
        settings = notify_settings(db_url, server.env())
        now = db_now(engine)
        report = drain(engine, settings, [t], now=now)
    rows = by_id(engine)
    # 550 on RCPT and 554 after DATA: failed at once; 451: the channel pauses for
    # five minutes and the message goes back without spending its attempt.
    assert (report.sent, report.failed, report.retrying) == (0, 2, 0)
    assert [(rows[i].status, rows[i].attempts) for i in ids] == [
        ("failed", 1),
        ("failed", 1),
        ("pending", 0),
    ]
    assert "550" in rows[ids[0]].last_error and "554" in rows[ids[1]].last_error
    assert rows[ids[2]].next_attempt_at == now + timedelta(minutes=5)
    assert channel_state(engine, "email").state == "paused"
    assert "user0@" not in rows[ids[0]].last_error


def test_an_smtp_outage_longer_than_the_retry_schedule_loses_nothing_and_sends_nothing_twice(
    engine: Engine, db_url: URL
) -> None:
    from tests.support.servers import smtp_server

    t, ids = email_rows(engine, 5)
    with smtp_server(running=False) as server:
        settings = notify_settings(db_url, {**server.env(), "GSTJOBS_NOTIFY_MAX_ATTEMPTS": "2"})
        now = db_now(engine)
        for minutes in range(0, 8 * 60, 45):  # eight hours down; two attempts take 15 minutes
            report = drain(engine, settings, [t], now=now + timedelta(minutes=minutes))
            assert (report.sent, report.failed, report.deferred) == (0, 0, 5)
        server.start()
        back = drain(engine, settings, [t], now=now + timedelta(hours=8))
        again = drain(engine, settings, [t], now=now + timedelta(hours=9))
        assert (back.sent, again.sent) == (5, 0)
        assert sorted(m.message["Message-ID"] for m in server.messages) == sorted(
            f"<notification-{i}.{t}@gstjobs>" for i in ids
        )
    assert {(r.status, r.attempts) for r in by_id(engine).values()} == {("sent", 1)}


def test_a_sender_never_sends_past_its_lease(
    engine: Engine, db_url: URL, api: CloudApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gstjobs.notify import delivery, lanes

    # A lease that leaves two seconds of sending once the safety margin is taken off.
    monkeypatch.setattr(delivery, "LEASE_SECONDS", 62.0)
    monkeypatch.setattr(lanes, "LEASE_MARGIN", 60.0)
    t, _ = whatsapp_rows(engine, 4)
    api.script += [("stall", 0.7)] * 4
    settings = notify_settings(db_url, api.env(TOKEN, timeout=1))
    first = drain(engine, settings, [t])
    # At most two sends fit in the lease (one on a loaded machine); the rest went back
    # unsent, their attempt refunded.
    assert 1 <= first.sent <= 2 and first.failed == 0 and first.deferred == 4 - first.sent
    assert sorted((r.status, r.attempts) for r in by_id(engine).values()) == sorted(
        [("pending", 0)] * (4 - first.sent) + [("sent", 1)] * first.sent
    )
    runs, sent = 1, first.sent
    while sent < 4 and runs < 4:
        more = drain(engine, settings, [t]).sent
        assert 1 <= more <= 2
        runs, sent = runs + 1, sent + more
    assert sorted(case_numbers(api)) == ["WA/0", "WA/1", "WA/2", "WA/3"]
    assert len({r.connection for r in api.requests}) <= runs  # one kept-alive connection a run
