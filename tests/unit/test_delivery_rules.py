"""Pure delivery logic: failure classes, Retry-After, MIME bytes, digests, settings."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any
from uuid import UUID

import pytest

from gstjobs.config import load_settings
from gstjobs.errors import ConfigError
from gstjobs.notify import digest, mime
from gstjobs.notify.classify import Kind, retry_after, smtp_kind, whatsapp_kind

NOW = datetime(2026, 1, 15, 2, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("code", "stage", "kind"),
    [
        (421, "rcpt", Kind.UNUSABLE),  # RFC 5321 3.8: the server is closing the channel
        (421, "connect", Kind.UNUSABLE),
        (535, "auth", Kind.UNUSABLE),  # RFC 4954: authentication credentials invalid
        (530, "auth", Kind.UNUSABLE),
        (550, "mail", Kind.UNUSABLE),  # the sender address itself is refused
        (451, "rcpt", Kind.RATE_LIMITED),
        (452, "rcpt", Kind.RATE_LIMITED),
        (451, "data", Kind.RATE_LIMITED),
        (550, "rcpt", Kind.PERMANENT),  # mailbox unavailable
        (553, "rcpt", Kind.PERMANENT),
        (554, "data", Kind.PERMANENT),  # transaction failed (content refused)
        (450, "rcpt", Kind.TRANSIENT),  # mailbox busy
        (-1, "data", Kind.TRANSIENT),
    ],
)
def test_smtp_reply_codes(code: int, stage: str, kind: Kind) -> None:
    assert smtp_kind(code, stage) is kind


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (401, 190, Kind.UNUSABLE),  # access token expired
        (401, None, Kind.UNUSABLE),
        (403, 10, Kind.UNUSABLE),  # permission denied
        (403, 200, Kind.UNUSABLE),  # 200-299 API permission
        (400, 368, Kind.UNUSABLE),  # temporarily blocked for policy violations
        (302, None, Kind.UNUSABLE),  # a redirect: WHATSAPP_API_URL is wrong
        (429, 130429, Kind.RATE_LIMITED),
        (400, 130429, Kind.RATE_LIMITED),
        (429, None, Kind.RATE_LIMITED),
        (400, 80007, Kind.RATE_LIMITED),
        (400, 131048, Kind.RATE_LIMITED),
        (400, 132000, Kind.PERMANENT),  # template parameters do not match
        (400, 131026, Kind.PERMANENT),  # message undeliverable
        (404, 132001, Kind.PERMANENT),  # template does not exist
        (400, 131056, Kind.TRANSIENT),  # pair rate limit: this recipient, later
        (400, 131030, Kind.TRANSIENT),  # recipient not in the allowed list (yet)
        (500, 131000, Kind.TRANSIENT),
        (503, 2, Kind.TRANSIENT),
        (500, None, Kind.TRANSIENT),
    ],
)
def test_whatsapp_error_codes(status: int, code: int | None, kind: Kind) -> None:
    assert whatsapp_kind(status, code) is kind


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    assert retry_after("120", NOW) == 120.0
    assert retry_after("Thu, 15 Jan 2026 02:31:30 GMT", NOW) == 90.0
    assert retry_after("Thu, 15 Jan 2026 02:00:00 GMT", NOW) == 0.0  # already past
    assert retry_after("999999", NOW) == 6 * 3600.0  # at most six hours
    assert retry_after("soon", NOW) is None
    assert retry_after(None, NOW) is None


def parse(data: bytes) -> Any:
    return email.message_from_bytes(data, policy=email.policy.default)


def build(**over: Any) -> mime.Mail:
    args: dict[str, Any] = {
        "sender": "Reminders <reminders@practice.example>",
        "name": "Asha Mehta",
        "address": "asha@mehta.example",
        "subject": "Hearing Reminder: GST/APL/2025/0123 - GST Appellate Tribunal",
        "text": "Dear Asha Mehta,\n\nA line with = and a trailing space \n.starts with a dot\n",
        "html": "<p>Mehta &amp; Associates</p>\n",
        "message_id": "<notification-1.t@gstjobs>",
        "date": NOW,
        "extra": {"X-Gstjobs-Notification": "1"},
    }
    return mime.build(**(args | over))


def test_mime_message_parses_back_to_what_was_rendered() -> None:
    mail = build()
    message = parse(mail.data)
    assert mail.recipient == "asha@mehta.example"
    assert message.get_content_type() == "multipart/alternative"
    assert message["To"] == "Asha Mehta <asha@mehta.example>"
    assert message["Message-ID"] == "<notification-1.t@gstjobs>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Gstjobs-Notification"] == "1"
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text == "Dear Asha Mehta,\n\nA line with = and a trailing space \n.starts with a dot\n"
    assert message.get_body(("html",)).get_content().replace("\r\n", "\n") == (
        "<p>Mehta &amp; Associates</p>\n"
    )
    assert not message.defects and not any(p.defects for p in message.walk())
    lines = mail.data.split(b"\r\n")
    assert b"\n" not in mail.data.replace(b"\r\n", b"") and max(map(len, lines)) <= 998


def test_mime_encodes_non_ascii_and_refuses_header_injection() -> None:
    mail = build(
        name="Müller, Asha",
        subject="₹ 10,00,000 demand — reply due\r\nBcc: victim@example.com",
        text="₹ " + "x" * 300,
    )
    message = parse(mail.data)
    assert message["To"].addresses[0].display_name == "Müller, Asha"
    assert message["Subject"] == "₹ 10,00,000 demand — reply due Bcc: victim@example.com"
    assert message["Bcc"] is None
    assert message.get_body(("plain",)).get_content().startswith("₹ xxx")
    assert mail.data.isascii()


@pytest.mark.parametrize("address", [None, "", "not-an-address", "a@b@c", "ü@example.in"])
def test_mime_refuses_an_address_it_cannot_send_to(address: str | None) -> None:
    with pytest.raises(mime.AddressError):
        build(address=address)


@dataclass
class Row:
    id: int
    user_id: UUID
    channel: str
    template: str
    urgency: int
    payload: dict[str, Any]


def rule(priority: str) -> dict[str, Any]:
    return {"rule_name": "r", "event": {"priority": priority}, "task": {"priority": priority}}


def test_rule_notifications_of_a_person_and_channel_become_one_message() -> None:
    a, b = UUID(int=1), UUID(int=2)
    rows = [
        Row(1, a, "email", "hearing_reminder", 2, {}),
        Row(2, a, "email", "sla_violation", 0, rule("Low")),
        Row(3, b, "email", "task_overdue", 0, rule("High")),
        Row(4, a, "email", "task_overdue", 0, rule("Critical")),
        Row(5, a, "whatsapp", "sla_violation", 0, rule("High")),
        Row(6, a, "email", "health_alert", 0, {}),
    ]
    groups = [[r.id for r in g] for g in digest.group(rows)]
    assert groups == [[1], [2, 4], [3], [5], [6]]
    assert [digest.template_of(g) for g in digest.group(rows)] == [
        "hearing_reminder",
        "rule_digest",
        "task_overdue",
        "sla_violation",
        "health_alert",
    ]


def test_digest_lists_the_most_urgent_first_up_to_the_cap() -> None:
    u = UUID(int=1)
    rows = [
        Row(1, u, "email", "task_overdue", 0, rule("Low")),
        Row(2, u, "email", "sla_violation", 0, rule("High")),
        Row(3, u, "email", "sla_violation", 0, rule("Critical")),
        Row(4, u, "email", "deadline_approaching", 2, {"rule_name": "r", "event": {}}),
        Row(5, u, "email", "task_overdue", 0, rule("Critical")),
    ]
    doc = digest.payload(rows, max_items=3)
    assert doc["total"] == 5
    assert [i["notification_id"] for i in doc["items"]] == [4, 3, 5]
    assert doc["summary"] == "1 deadline approaching, 2 SLA breaches, 2 overdue tasks"


def test_delivery_settings_and_their_one_line_errors() -> None:
    d = load_settings({}).delivery
    assert (d.run_deadline, d.send_budget, d.smtp_connections, d.whatsapp_connections) == (
        50.0,
        60.0,
        2,
        2,
    )
    assert d.quiet_hours == (time(21, 0), time(8, 0))
    assert load_settings({"GSTJOBS_QUIET_HOURS": "off"}).delivery.quiet_hours is None
    assert load_settings({"GSTJOBS_QUIET_HOURS": "22:30-06:15"}).delivery.quiet_hours == (
        time(22, 30),
        time(6, 15),
    )
    for env, needle in (
        ({"GSTJOBS_QUIET_HOURS": "9pm-8am"}, "GSTJOBS_QUIET_HOURS"),
        ({"GSTJOBS_DELIVERY_DEADLINE": "0"}, "GSTJOBS_DELIVERY_DEADLINE"),
        ({"GSTJOBS_DELIVERY_DEADLINE": "7200"}, "GSTJOBS_DELIVERY_DEADLINE"),
        ({"GSTJOBS_SMTP_CONNECTIONS": "0"}, "GSTJOBS_SMTP_CONNECTIONS"),
        ({"GSTJOBS_WHATSAPP_CONNECTIONS": "64"}, "GSTJOBS_WHATSAPP_CONNECTIONS"),
        ({"GSTJOBS_SEND_BUDGET": "soon"}, "GSTJOBS_SEND_BUDGET"),
        ({"GSTJOBS_DIGEST_ITEMS": "0"}, "GSTJOBS_DIGEST_ITEMS"),
    ):
        with pytest.raises(ConfigError) as caught:
            load_settings(env)
        assert needle in caught.value.message and "\n" not in caught.value.message
