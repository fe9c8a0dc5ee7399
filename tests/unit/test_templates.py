"""The shipped templates, rendered from fixed payloads, against reviewed samples.

The samples in tests/samples/ were read and approved by a person. After a deliberate
template change, regenerate them with ``GSTJOBS_UPDATE_SAMPLES=1 pytest
tests/unit/test_templates.py``, read the diff, and commit it.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gstjobs.notify.templates import (
    DIGEST,
    PARAMETERS_BUDGET,
    TEMPLATES,
    Envelope,
    RenderError,
    render,
    whatsapp_parameters,
)

SAMPLES = Path(__file__).parent.parent / "samples"
ENVELOPE = Envelope(
    notification_id=42,
    recipient_name="Asha Mehta",
    firm_name="Mehta & Associates",
    timezone="Asia/Kolkata",
    now=datetime(2026, 1, 15, 2, 30, tzinfo=UTC),  # 08:00 IST
    base_url="https://app.example.in",
)
TASK = {
    "id": "7d3c1a52-0000-4000-8000-000000000001",
    "title": "Submit reply to ASMT-10 notice",
    "priority": "Critical",
    "status": "Pending",
    "due_date": "2026-01-13T11:30:00+00:00",
}
CASE = {
    "id": "7d3c1a52-0000-4000-8000-0000000000c1",
    "case_number": "DRC-01/2025-26/014",
    "title": "Acme Traders: demand u/s 73",
}
PAYLOADS: dict[str, dict[str, Any]] = {
    "hearing_reminder": {
        "hearing_id": "7d3c1a52-0000-4000-8000-0000000000a1",
        "case_id": CASE["id"],
        "case_number": "GST/APL/2025/0123",
        "case_title": "Acme Traders v. State Tax Officer",
        "court_name": "GST Appellate Tribunal, Ahmedabad State Bench",
        "court_city": "Ahmedabad",
        "court_address": "Block B, Vepari Mahamandal Building, Ashram Road, Ahmedabad 380009",
        "court_forum": "gstat",
        "hearing_date": "2026-01-16T05:00:00+00:00",
        "purpose": "Final arguments",
        "client_name": "Acme Traders Pvt Ltd",
        "gstin": "24AABCA1234F1Z3",
        "proceeding_id": "7d3c1a52-0000-4000-8000-0000000000d2",
        "proceeding_kind": "APL_05_FILED",
        "reference": "ZA240126000987X",
        "reference_date": "12-01-2026",
        "financial_years": "2019-20, 2020-21",
        "demand_section": "s.74",
        "amount": "₹18,40,000",
        "amounts": {"cgst": "₹9,20,000", "sgst": "₹9,20,000"},
        "representative": "Ravi Iyer",
        "adjournments": 2,
        "roles": ["owner", "appearing representative"],
    },
    "deadline_digest": {
        "date": "2026-01-15",
        "window_end": "2026-01-16T02:30:00+00:00",
        "overdue": [
            {
                "kind": "task",
                "id": "7d3c1a52-0000-4000-8000-000000000003",
                "title": "Pay pre-deposit for APL-01",
                "priority": "Critical",
                "due": "2026-01-10T12:30:00+00:00",
                "high": True,
                "case_id": CASE["id"],
                "case_number": CASE["case_number"],
                "days_overdue": 5,
                "client": "Kaveri Agro Exports Ltd",
                "reference": "ZD3311260012345",
                "forum": "Appellate Authority (Appeals), Chennai",
            },
            {
                "kind": "task",
                "id": "7d3c1a52-0000-4000-8000-000000000004",
                "title": "Call client for reconciliations",
                "priority": "Medium",
                "due": "2026-01-15T02:00:00+00:00",
                "high": False,
                "days_overdue": 0,
            },
        ],
        "overdue_total": 3,
        "items": [
            {
                "kind": "task",
                "id": TASK["id"],
                "title": "Submit Reply to ASMT-10 Notice",
                "priority": "Critical",
                "due": "2026-01-15T11:30:00+00:00",
                "high": True,
                "case_id": CASE["id"],
                "case_number": CASE["case_number"],
                "client": "Acme Traders Pvt Ltd",
                "forum": "Deputy Commissioner of State Tax, Ahmedabad",
            },
            {
                "kind": "hearing",
                "id": "7d3c1a52-0000-4000-8000-0000000000a1",
                "title": "GSTAT, Ahmedabad",
                "priority": None,
                "due": "2026-01-16T05:00:00+00:00",
                "high": True,
                "case_id": CASE["id"],
                "case_number": "GST Appeal #2024-0123",
                "client": "Acme Traders Pvt Ltd",
                "reference": "ZA240126000987X",
            },
            {
                "kind": "task",
                "id": "7d3c1a52-0000-4000-8000-000000000002",
                "title": "Prepare hearing documents",
                "priority": "Medium",
                "due": "2026-01-16T08:30:00+00:00",
                "high": False,
                "case_id": None,
                "case_number": None,
            },
        ],
        "statutory": [
            {
                "block": "next_7_days",
                "title": "APL-01 first appeal",
                "case_id": CASE["id"],
                "case_number": "DRC-07/2025-26/0042",
                "rule_id": "APL01_APPEAL",
                "due_date": "2026-01-19",
                "days_left": 4,
                "outer_date": "2026-02-19",
                "client": "Kaveri Agro Exports Ltd",
            }
        ],
    },
    "task_overdue": {
        "rule_id": "7d3c1a52-0000-4000-8000-0000000000f1",
        "rule_name": "Tell the assignee as soon as a task is overdue",
        "event_type": "task_overdue",
        "event": {
            "task_id": TASK["id"],
            "case_id": CASE["id"],
            "days_overdue": 2,
            "priority": "Critical",
            "hours_overdue": 39.0,
        },
        "task": TASK,
        "case": CASE,
    },
    "sla_violation": {
        "rule_id": "7d3c1a52-0000-4000-8000-0000000000f2",
        "rule_name": "Alert admins when an SLA is breached",
        "event_type": "sla_violation",
        "event": {
            "task_id": TASK["id"],
            "case_id": CASE["id"],
            "priority": "Critical",
            "sla_threshold": 24,
            "actual_time": 30.5,
        },
        "task": TASK,
        "case": CASE,
    },
    "deadline_approaching": {
        "rule_id": "7d3c1a52-0000-4000-8000-0000000000f3",
        "rule_name": "Remind the advocate before a hearing",
        "event_type": "deadline_approaching",
        "event": {
            "entity_type": "hearing",
            "entity_id": "7d3c1a52-0000-4000-8000-0000000000a1",
            "hours_until_due": 20.5,
            "case_id": CASE["id"],
        },
        "task": None,
        "case": CASE,
    },
    "limitation_alert": {
        "event_type": "limitation_approaching",
        "threshold": "T-30",
        "rule_id": "APL01_APPEAL",
        "title": "APL-01 first appeal",
        "forum": "the Appellate Authority",
        "kind": "condonable",
        "client_name": "Kaveri Agro Exports Ltd",
        "gstin": "33AAACK1234F1Z5",
        "case_id": CASE["id"],
        "case_number": "DRC-07/2026-27/0042",
        "proceeding_id": "7d3c1a52-0000-4000-8000-0000000000d1",
        "proceeding": "ORDER-S73",
        "reference_no": "ZD3311260012345",
        "issue_date": "03-11-2026 (Tue)",
        "communicated_date": "04-11-2026 (Wed)",
        "anchor": "communication date 04-11-2026 (Wed)",
        "section": "s.73",
        "due_date": "04-02-2027 (Thu)",
        "days_left": 30,
        "outer_date": "04-03-2027 (Thu)",
        "consequence": "After the further month no appeal lies.",
        "source": "s.107(1), (4) CGST Act",
        "confidence": "verified",
        "notes": ["assumed: communication date unknown, issue date used"],
        "status": "open",
        "amount": "₹1,42,000",
        "amounts": {"cgst": "₹71,000", "sgst": "₹71,000"},
        "roles": ["appearing representative", "matter owner"],
    },
    "health_alert": {
        "level": "CRITICAL",
        "window_hours": 24,
        "findings": [
            {"level": "CRITICAL", "message": "Rule 'Escalate overdue' succeeded 60.0% (< 80%)"},
            {"level": "WARNING", "message": "Rule 'Weekly digest' has not run for 48 hours"},
        ],
        "matters": [
            {
                "level": "WARNING",
                "message": "2 hearing(s) past with no outcome recorded: DRC-01/2025-26/014 on "
                "12-01-2026 and 1 more; record Attended, Adjourned (with the next date) or Missed",
            }
        ],
        "metrics": {"total_executions": 10, "successful_executions": 6, "success_rate": 60.0},
    },
}


@pytest.mark.parametrize("name", TEMPLATES)
def test_rendered_message_matches_reviewed_sample(name: str) -> None:
    rendered = render(name, PAYLOADS[name], ENVELOPE)
    parts = {"subject.txt": rendered.subject + "\n", "txt": rendered.text, "html": rendered.html}
    for suffix, actual in parts.items():
        sample = SAMPLES / f"{name}.{suffix}"
        if os.environ.get("GSTJOBS_UPDATE_SAMPLES"):
            sample.write_text(actual, encoding="utf-8")
        assert actual == sample.read_text(encoding="utf-8"), f"{sample.name} differs"


def test_every_template_has_a_sample_payload() -> None:
    assert set(PAYLOADS) == set(TEMPLATES)


def test_html_escapes_data_text_does_not() -> None:
    payload = PAYLOADS["hearing_reminder"] | {"case_title": "<script>alert(1)</script> & Co"}
    rendered = render("hearing_reminder", payload, ENVELOPE)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in rendered.html
    assert "<script>" not in rendered.html
    assert "<script>alert(1)</script> & Co" in rendered.text


def test_a_missing_field_is_an_error_not_a_blank() -> None:
    payload = {k: v for k, v in PAYLOADS["hearing_reminder"].items() if k != "court_name"}
    with pytest.raises(RenderError, match="court_name"):
        render("hearing_reminder", payload, ENVELOPE)


def test_unknown_template_is_refused() -> None:
    with pytest.raises(RenderError, match="unknown template"):
        render("birthday_card", {}, ENVELOPE)


def test_times_follow_the_tenant_timezone_and_the_sending_day() -> None:
    new_york = Envelope(1, "A", "F", "America/New_York", ENVELOPE.now, "https://x")
    text = render("hearing_reminder", PAYLOADS["hearing_reminder"], new_york).text
    assert "When:         Fri, 16-01-2026, 12:00 AM EST" in text
    assert "Times are in EST." in text
    # Sent the next morning IST, the same hearing is "today".
    next_day = Envelope(1, "A", "F", "Asia/Kolkata", datetime(2026, 1, 16, 1, 0, tzinfo=UTC), "x")
    assert (
        "Your hearing is today, Fri, 16-01-2026, 10:30 AM IST."
        in render("hearing_reminder", PAYLOADS["hearing_reminder"], next_day).text
    )


def test_whatsapp_parameters_for_every_template() -> None:
    for name in TEMPLATES:
        params = whatsapp_parameters(name, PAYLOADS[name], ENVELOPE)
        assert params and all(isinstance(p, str) and p for p in params)
        assert params[-1] == "Mehta & Associates"


def digest_payload() -> dict[str, Any]:
    """Four rule notifications for one person, as notify.digest builds their message."""
    from dataclasses import dataclass
    from uuid import UUID

    from gstjobs.notify import digest

    @dataclass
    class Row:
        id: int
        user_id: UUID
        channel: str
        template: str
        urgency: int
        payload: dict[str, Any]

    kinds = ("task_overdue", "sla_violation", "deadline_approaching", "sla_violation")
    rows = [Row(42 + n, UUID(int=1), "email", k, 0, PAYLOADS[k]) for n, k in enumerate(kinds)]
    # The first two are about the same task (listed once); the last about another one.
    other = {"id": "7d3c1a52-0000-4000-8000-000000000002", "title": "File APL-01 appeal"}
    last = PAYLOADS["sla_violation"]
    rows[3].payload = {
        **last,
        "event": {**last["event"], "task_id": other["id"], "priority": "High"},
        "task": {**TASK, **other, "priority": "High"},
    }
    return digest.payload(rows, max_items=3)


def test_digest_matches_its_reviewed_sample() -> None:
    rendered = render(DIGEST, digest_payload(), ENVELOPE)
    parts = {"subject.txt": rendered.subject + "\n", "txt": rendered.text, "html": rendered.html}
    for suffix, actual in parts.items():
        sample = SAMPLES / f"{DIGEST}.{suffix}"
        if os.environ.get("GSTJOBS_UPDATE_SAMPLES"):
            sample.write_text(actual, encoding="utf-8")
        assert actual == sample.read_text(encoding="utf-8"), f"{sample.name} differs"
    assert whatsapp_parameters(DIGEST, digest_payload(), ENVELOPE) == [
        rendered.subject,
        "Mehta & Associates",
    ]


def meta_accepts(params: list[str]) -> bool:
    """What the Cloud API checks of template body parameters (error 132018): no newline,
    no tab, at most four consecutive spaces, not empty; and the body (with its approved
    text) at most 1,024 characters, for which the parameters keep PARAMETERS_BUDGET."""
    return (
        all(p and "\n" not in p and "\t" not in p and "     " not in p for p in params)
        and sum(len(p) for p in params) <= PARAMETERS_BUDGET
    )


def test_whatsapp_parameters_are_what_meta_accepts_even_from_untidy_data() -> None:
    untidy = "Kaveri\tAgro\nExports     Pvt Ltd " + "x" * 400
    for name in TEMPLATES:
        payload = dict(PAYLOADS[name])
        for key in ("case_number", "court_name", "client_name", "level"):
            if key in payload:
                payload[key] = untidy
        if name == "deadline_digest":
            payload["overdue"] = [dict(i, title=untidy) for i in payload["overdue"]] * 10
            payload["overdue_total"] = 20
        params = whatsapp_parameters(name, payload, ENVELOPE)
        assert meta_accepts(params), (name, params)
    assert not meta_accepts(["a\nb"]) and not meta_accepts(["a     b"]) and not meta_accepts([""])


def test_the_whatsapp_digest_names_its_first_items() -> None:
    params = whatsapp_parameters("deadline_digest", PAYLOADS["deadline_digest"], ENVELOPE)
    assert params == [
        "3",
        "3",
        "OVERDUE 5 days: Pay pre-deposit for APL-01 (Kaveri Agro Exports Ltd, "
        "DRC-01/2025-26/014); OVERDUE since today: Call client for reconciliations; "
        "Today, 5:00 PM IST: Submit Reply to ASMT-10 Notice (Acme Traders Pvt Ltd, "
        "DRC-01/2025-26/014); and 3 more",
        "https://app.example.in/deadlines",
        "Mehta & Associates",
    ]


def test_a_reminder_queued_before_the_upgrade_still_renders() -> None:
    kept = "hearing_id case_id case_number case_title court_name court_city hearing_date"
    old = {k: PAYLOADS["hearing_reminder"][k] for k in [*kept.split(), "purpose", "roles"]}
    text = render("hearing_reminder", old, ENVELOPE).text
    assert "Preparation checklist:" in text and "Client:" not in text
    digest = {k: PAYLOADS["deadline_digest"][k] for k in ("date", "window_end", "items")}
    assert "OVERDUE" not in render("deadline_digest", digest, ENVELOPE).text


def test_the_digest_escapes_what_the_data_says_in_html() -> None:
    payload = dict(PAYLOADS["deadline_digest"])
    payload["overdue"] = [dict(payload["overdue"][0], client="<b>Rao & Sons</b>")]
    payload["statutory"] = [dict(payload["statutory"][0], client="<i>Kaveri</i>")]
    rendered = render("deadline_digest", payload, ENVELOPE)
    assert "&lt;b&gt;Rao &amp; Sons&lt;/b&gt;" in rendered.html and "<b>Rao" not in rendered.html
    assert "&lt;i&gt;Kaveri&lt;/i&gt;" in rendered.html
    assert "<b>Rao & Sons</b>" in rendered.text


def test_the_digest_subject_says_whether_its_statutory_dates_have_passed() -> None:
    """A date already passed is not "1 statutory date" beside what falls due."""
    payload = dict(PAYLOADS["deadline_digest"], overdue=[], overdue_total=0, items=[])
    coming = payload["statutory"][0]
    passed = dict(coming, block="overdue", due_date="2026-01-12", days_left=-3)
    subject = render("deadline_digest", dict(payload, statutory=[passed]), ENVELOPE).subject
    assert subject.endswith("0 due in the next 24 hours, 1 statutory date passed"), subject
    both = render("deadline_digest", dict(payload, statutory=[passed, coming, coming]), ENVELOPE)
    assert both.subject.endswith(
        ", 1 statutory date passed, 2 statutory dates in the next 7 days"
    ), both.subject


def test_a_statutory_date_on_a_holiday_says_when_to_file() -> None:
    payload = dict(PAYLOADS["deadline_digest"])
    sunday = dict(payload["statutory"][0], due_date="2026-01-18", days_left=3, file_by="2026-01-16")
    rendered = render("deadline_digest", dict(payload, statutory=[sunday]), ENVELOPE)
    for part in (rendered.text, rendered.html):
        assert "3 days left (a holiday: file by Fri, 16-01-2026)" in part


def test_a_zone_without_an_abbreviation_is_named_by_its_offset() -> None:
    dubai = Envelope(1, "A", "F", "Asia/Dubai", ENVELOPE.now, "https://x")
    text = render("hearing_reminder", PAYLOADS["hearing_reminder"], dubai).text
    assert "When:         Fri, 16-01-2026, 9:00 AM UTC+04" in text
    assert "Times are in UTC+04." in text


def test_roles_are_said_once_and_a_partner_is_not_the_matters() -> None:
    payload = {**PAYLOADS["limitation_alert"], "roles": ["matter owner", "partner"]}
    text_ = render("limitation_alert", payload, ENVELOPE).text
    assert "as the matter's owner and as a partner of the firm." in text_
    assert "matter's matter owner" not in text_
    alone = render("limitation_alert", {**payload, "roles": ["partner"]}, ENVELOPE).text
    assert "as a partner of the firm." in alone and "matter's" not in alone


def test_a_long_breach_is_said_in_days() -> None:
    payload = {**PAYLOADS["sla_violation"]}
    payload["event"] = {**payload["event"], "actual_time": 1995.9, "sla_threshold": 48}
    rendered = render("sla_violation", payload, ENVELOPE)
    assert rendered.subject.endswith("(83 days, against 48 h)")
    assert "has been open 83 days, beyond its SLA of 48 hours." in rendered.text


def test_health_metrics_are_sentences_not_keys() -> None:
    payload = {
        **PAYLOADS["health_alert"],
        "level": "WARNING",
        "metrics": {
            "total_executions": 0,
            "successful_executions": 0,
            "failed_executions": 0,
            "success_rate": None,
            "critical_rules": [],
            "inactive_rules": ["7d3c1a52-0000-4000-8000-0000000000f9"],
            "level": "OK",
            "window_hours": 24,
        },
    }
    rendered = render("health_alert", payload, ENVELOPE)
    for part in (rendered.text, rendered.html):
        assert "critical_rules" not in part and "level: OK" not in part
        assert "No automation rule ran in the last 24 hours." in part
        assert "Rules needing attention: 1 inactive." in part
