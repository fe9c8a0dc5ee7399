"""WhatsApp delivery against a loopback server speaking the Cloud API messages endpoint."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from gstjobs.notify.delivery import drain
from tests.support import factory
from tests.support.outbox import folder
from tests.support.servers import (
    WhatsAppServer,
    hearing_payload,
    meta_error,
    notify_settings,
    queue,
    rows,
    whatsapp_server,
)

TOKEN = "EAAG-secret-token-123"
PHONE = "+919812345678"


@pytest.fixture
def wa() -> Any:
    with whatsapp_server() as server:
        yield server


def one_message(engine: Engine, *, opted_in: bool = True) -> tuple[Any, int]:
    with engine.begin() as conn:
        t = factory.tenant(conn, "Mehta & Associates")
        u = factory.user(conn, t, name="Asha Mehta", phone=PHONE, whatsapp_opt_in=opted_in)
        n = queue(conn, t, u, "hearing_reminder", hearing_payload(), channel="whatsapp")
    return t, n


def row(engine: Engine, n: int) -> Any:
    with engine.connect() as conn:
        return next(r for r in rows(conn) if r.id == n)


def now(engine: Engine) -> Any:
    with engine.connect() as conn:
        return conn.execute(text("SELECT now()")).scalar_one()


def test_template_message_is_posted_and_its_id_kept(
    engine: Engine, db_url: URL, wa: WhatsAppServer
) -> None:
    t, n = one_message(engine)
    report = drain(engine, notify_settings(db_url, wa.env(TOKEN)), [t])
    assert report.sent == 1
    (request,) = wa.requests
    assert request.path == "/v21.0/1098765432/messages"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    body = request.body
    assert (body["messaging_product"], body["type"], body["to"]) == (
        "whatsapp",
        "template",
        "919812345678",
    )
    assert body["template"]["name"] == "hearing_reminder"
    assert body["template"]["language"] == {"code": "en"}
    params = [p["text"] for p in body["template"]["components"][0]["parameters"]]
    assert params == [
        "GST/APL/2025/0123",
        "GST Appellate Tribunal, Ahmedabad",
        "Fri, 16-01-2026, 10:30 AM IST",
        "Mehta & Associates",
    ]
    assert (row(engine, n).status, row(engine, n).provider_message_id) == (
        "sent",
        "wamid.TEST0001",
    )


def test_4xx_is_recorded_without_token_or_number_and_retried(
    engine: Engine, db_url: URL, wa: WhatsAppServer
) -> None:
    t, n = one_message(engine)
    wa.script.append((400, meta_error(131030, f"Invalid parameter for {PHONE} with {TOKEN}", None)))
    settings = notify_settings(db_url, wa.env(TOKEN))
    start = now(engine)
    report = drain(engine, settings, [t], now=start)
    assert (report.sent, report.failed, report.retrying) == (0, 1, 1)
    failed = row(engine, n)
    assert failed.status == "pending" and failed.attempts == 1
    assert failed.last_error.startswith("HTTP 400: (#131030) Invalid parameter for")
    assert TOKEN not in failed.last_error
    assert "9812345678" not in failed.last_error
    retried = drain(engine, settings, [t], now=start + timedelta(minutes=6))
    assert retried.sent == 1 and len(wa.requests) == 2
    assert row(engine, n).provider_message_id == "wamid.TEST0002"


def test_error_details_of_meta_are_preferred(
    engine: Engine, db_url: URL, wa: WhatsAppServer
) -> None:
    t, n = one_message(engine)
    wa.script.append(
        (400, meta_error(131030, "(#131030) x", "Recipient phone number not in allowed list"))
    )
    drain(engine, notify_settings(db_url, wa.env(TOKEN)), [t])
    assert row(engine, n).last_error == (
        "HTTP 400: (#131030) Recipient phone number not in allowed list"
    )


def test_5xx_then_timeout_then_success(engine: Engine, db_url: URL, wa: WhatsAppServer) -> None:
    t, n = one_message(engine)
    wa.script += [(500, {"error": {"message": "Internal error", "code": 1}}), ("stall", 3)]
    settings = notify_settings(db_url, wa.env(TOKEN))
    start = now(engine)
    assert drain(engine, settings, [t], now=start).retrying == 1
    assert row(engine, n).last_error == "HTTP 500: (#1) Internal error"
    assert drain(engine, settings, [t], now=start + timedelta(minutes=6)).retrying == 1
    timed_out = row(engine, n)
    assert "did not answer within 1s" in timed_out.last_error
    assert (timed_out.status, timed_out.attempts) == ("pending", 2)
    assert drain(engine, settings, [t], now=start + timedelta(minutes=20)).sent == 1
    assert (row(engine, n).status, row(engine, n).attempts) == ("sent", 3)


def test_users_who_did_not_opt_in_get_no_whatsapp(
    engine: Engine, db_url: URL, wa: WhatsAppServer
) -> None:
    t, n = one_message(engine, opted_in=False)
    report = drain(engine, notify_settings(db_url, wa.env(TOKEN)), [t])
    assert (report.sent, report.failed, report.retrying) == (0, 1, 0)
    assert wa.requests == []
    assert row(engine, n).status == "failed"
    assert "not opted in" in row(engine, n).last_error


def test_unreachable_api_stops_the_channel_and_spends_no_attempt(
    engine: Engine, db_url: URL
) -> None:
    t, n = one_message(engine)
    with whatsapp_server() as gone:
        env = gone.env(TOKEN)
    report = drain(engine, notify_settings(db_url, env), [t])
    assert (report.sent, report.failed, report.deferred) == (0, 0, 1)
    assert report.down and report.down[0].startswith("whatsapp: WhatsApp API 127.0.0.1:")
    failed = row(engine, n)
    assert (failed.status, failed.attempts) == ("pending", 0)
    assert "unreachable" in failed.last_error


def test_without_whatsapp_settings_rows_are_files_only_for_opted_in_users_with_a_phone(
    engine: Engine, db_url: URL, tmp_path: Any
) -> None:
    # The file channel stands in for WhatsApp and refuses what the API channel would:
    # a user who did not opt in, or has no phone, fails at once and gets no file.
    with engine.begin() as conn:
        t = factory.tenant(conn, "Mehta & Associates")
        ready = factory.user(conn, t, phone=PHONE, whatsapp_opt_in=True)
        opted_out = factory.user(conn, t, phone="+919800000001", whatsapp_opt_in=False)
        no_phone = factory.user(conn, t, phone=None, whatsapp_opt_in=True)
        ids = {
            who: queue(conn, t, u, "hearing_reminder", hearing_payload(), channel="whatsapp")
            for who, u in (("ready", ready), ("opted_out", opted_out), ("no_phone", no_phone))
        }
        bad = queue(conn, t, ready, "hearing_reminder", {"case_number": "X"}, channel="whatsapp")
    settings = notify_settings(db_url, {"GSTJOBS_OUTBOX_DIR": str(tmp_path / "outbox")})
    assert settings.whatsapp is None
    outbox_dir = folder(engine, settings)
    report = drain(engine, settings, [t])
    assert (report.sent, report.failed, report.retrying) == (1, 3, 0)
    assert sorted(p.name for p in outbox_dir.iterdir()) == [f"notification-{ids['ready']}.json"]
    written = json.loads((outbox_dir / f"notification-{ids['ready']}.json").read_text())
    assert written["to"] == PHONE and written["template"] == "hearing_reminder"
    assert (row(engine, ids["ready"]).status, row(engine, ids["ready"]).attempts) == ("sent", 1)
    for n, error in (
        (ids["opted_out"], "not opted in"),
        (ids["no_phone"], "no phone number"),
        (bad, "hearing_date"),
    ):
        failed = row(engine, n)
        assert (failed.status, failed.attempts, failed.sent_at) == ("failed", 1, None)
        assert error in failed.last_error
        assert failed.provider_message_id is None
