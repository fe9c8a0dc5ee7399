"""The rule validator: every operator and action type, and one clear line per mistake."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gstjobs.automation.rules import (
    RULE_TEMPLATES,
    TASK_TRIGGERS,
    TRIGGERS,
    parse_rules_text,
    validate_actions,
    validate_conditions,
    validate_rule,
)
from gstjobs.demo import DEMO_RULES
from gstjobs.errors import RuleError
from gstjobs.notify.templates import TEMPLATES, Envelope, RenderError, render
from tests.conftest import AS_OF


@pytest.mark.parametrize(
    "conditions",
    [
        {},
        {"priority": "Critical"},
        {"days_overdue": 2},
        {"priority": {"eq": "High"}},
        {"priority": {"ne": "Low"}},
        {"priority": {"in": ["Critical", "High"]}},
        {"entity_type": {"not_in": ["hearing"]}},
        {"days_overdue": {"gt": 1}},
        {"days_overdue": {"gte": 2}},
        {"hours_until_due": {"lt": 24.5}},
        {"hours_until_due": {"lte": 24, "gt": 0}},
        {"sla_threshold": {"gte": 24}, "actual_time": {"gt": 48}},
    ],
)
def test_valid_conditions_pass_unchanged(conditions: dict[str, Any]) -> None:
    assert validate_conditions(conditions) == conditions


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        ([], "conditions must be a JSON object"),
        ({"priority": {}}, "conditions.priority must name at least one operator"),
        ({"priority": {"like": "Crit%"}}, "conditions.priority.like is not an operator"),
        ({"days_overdue": {"gt": "2"}}, "conditions.days_overdue.gt must be a finite number"),
        ({"days_overdue": {"lte": True}}, "conditions.days_overdue.lte must be a finite number"),
        # What jsonb or the database's rule check would refuse, refused before it gets there.
        ({"days_overdue": {"gt": float("inf")}}, "conditions.days_overdue.gt must be a finite"),
        ({"days_overdue": {"gt": 10**15}}, "conditions.days_overdue.gt must be a finite number"),
        ({"amount": float("nan")}, "conditions.amount must be a string, number or boolean"),
        ({"amount": {"in": [1, -(10**16)]}}, "conditions.amount.in[1] must be a string"),
        ({"priority": {"in": "High"}}, "conditions.priority.in must be a non-empty list"),
        ({"priority": {"not_in": []}}, "conditions.priority.not_in must be a non-empty list"),
        ({"priority": {"in": [["High"]]}}, "conditions.priority.in[0] must be a string"),
        ({"priority": {"eq": ["High"]}}, "conditions.priority.eq must be a string"),
        ({"priority": None}, "conditions.priority must be a string, number or boolean"),
        ({"priority": ["High"]}, "conditions.priority must be a string, number or boolean"),
        ({"": 1}, "conditions has an empty field name"),
    ],
)
def test_bad_conditions_name_the_field(conditions: Any, message: str) -> None:
    with pytest.raises(RuleError) as err:
        validate_conditions(conditions)
    assert err.value.message.startswith(message)
    assert "\n" not in err.value.message


@pytest.mark.parametrize(
    ("trigger", "conditions", "message"),
    [
        # A value the field never holds: the rule would never match.
        ("sla_violation", {"priority": "Urgent"}, "conditions.priority: priority is one of"),
        (
            "task_overdue",
            {"priority": {"in": ["Critical", "high"]}},
            'conditions.priority.in: priority is one of Critical, High, Medium, Low (got "high")',
        ),
        (
            "task_overdue",
            {"days_overdue": "2"},
            "conditions.days_overdue: days_overdue is a number",
        ),
        ("deadline_approaching", {"entity_type": "Hearing"}, "conditions.entity_type: entity_type"),
        ("task_overdue", {"task_id": {"gt": 3}}, "conditions.task_id.gt: task_id is not a number"),
        # A misspelt field: never matched, or with ne / not_in matched every event.
        (
            "task_overdue",
            {"days_overdu": {"gte": 2}},
            "conditions.days_overdu is not a field of task_overdue events; use case_id, "
            "days_overdue, due_date, hours_overdue, priority, task_id",
        ),
        ("sla_violation", {"priorty": {"ne": "Low"}}, "conditions.priorty is not a field of"),
        # A field of another trigger's events.
        ("sla_violation", {"days_overdue": {"gte": 2}}, "conditions.days_overdue is not a field"),
        ("limitation_lapsed", {"priority": "High"}, "conditions.priority is not a field of"),
        # Free text no payload holds (a `ne` on it would match every event).
        ("limitation_lapsed", {"kind": {"ne": "Hard"}}, "conditions.kind.ne: kind is one of hard"),
        ("limitation_lapsed", {"status": "Lapsed"}, "conditions.status: status is one of open"),
        ("limitation_approaching", {"threshold": "T30"}, "conditions.threshold: threshold is T-"),
        ("task_overdue", {"case_id": "not-a-uuid"}, "conditions.case_id: case_id is a UUID"),
        # Values the watch never raises with that trigger.
        ("limitation_lapsed", {"status": {"ne": "met"}}, "conditions.status.ne: limitation_lapsed"),
        ("limitation_approaching", {"threshold": "lapsed"}, "conditions.threshold: limitation_"),
        ("adjournment_cap_reached", {"status": "lapsed"}, "conditions.status: adjournment_cap"),
        # The adjournment count is on the cap's events only.
        ("limitation_approaching", {"adjournments": {"gte": 2}}, "conditions.adjournments is not"),
    ],
)
def test_a_condition_no_event_of_its_trigger_can_meet_is_refused(
    trigger: str, conditions: dict[str, Any], message: str
) -> None:
    validate_conditions(conditions)  # well formed: only the trigger's fields refuse it
    with pytest.raises(RuleError) as err:
        validate_conditions(conditions, trigger_event=trigger)
    assert err.value.message.startswith(message), err.value.message
    rule = {"name": "r", "trigger_event": trigger, "conditions": conditions}
    with pytest.raises(RuleError, match=r"^conditions"):
        validate_rule(
            {**rule, "actions": [{"type": "create_task", "title": "x", "due_in_hours": 1}]}
        )


@pytest.mark.parametrize(
    ("trigger", "conditions"),
    [
        ("task_overdue", {"priority": "Critical", "days_overdue": {"gte": 2}}),
        ("sla_violation", {"priority": {"in": ["Critical", "High"]}, "sla_threshold": 24}),
        ("deadline_approaching", {"entity_type": "hearing", "hours_until_due": {"lte": 9}}),
        ("deadline_approaching", {"priority": {"not_in": ["Low"]}}),
        ("limitation_approaching", {"rule_id": "APL01_APPEAL", "days_left": {"lte": 7}}),
        ("adjournment_cap_reached", {"threshold": "cap", "adjournments": {"gte": 3}}),
        ("limitation_lapsed", {"kind": {"in": ["hard", "condonable"]}, "status": "lapsed"}),
        ("condonation_closing", {"threshold": {"in": ["outer-7", "outer-1"]}}),
        ("task_overdue", {"case_id": "7d3c1a52-0000-4000-8000-0000000000c1"}),
    ],
)
def test_conditions_on_the_trigger_s_own_fields_pass(
    trigger: str, conditions: dict[str, Any]
) -> None:
    assert validate_conditions(conditions, trigger_event=trigger) == conditions


def test_escalation_tells_the_owner_and_reassigns_only_when_asked() -> None:
    assert validate_actions([{"type": "escalate"}], "sla_violation") == [
        {"type": "escalate", "raise_priority": True, "reassign": False}
    ]
    assert validate_actions(
        [{"type": "escalate", "reassign": True, "raise_priority": False}], "task_overdue"
    ) == [{"type": "escalate", "raise_priority": False, "reassign": True}]


def test_actions_get_their_defaults() -> None:
    actions = validate_actions(
        [
            {"type": "notify", "recipient": "assignee"},
            {"type": "escalate", "raise_priority": True},
            {"type": "create_task", "title": " Draft reply to DRC-01 ", "due_in_hours": 48},
        ],
        "task_overdue",
    )
    assert actions == [
        {"type": "notify", "recipient": "assignee", "channel": "email", "template": "task_overdue"},
        {"type": "escalate", "reassign": False, "raise_priority": True},
        {
            "type": "create_task",
            "title": "Draft reply to DRC-01",
            "due_in_hours": 48,
            "priority": "Medium",
            "assign_to": "assignee",
        },
    ]


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        ({}, "actions must be a non-empty JSON array"),
        ([], "actions must be a non-empty JSON array"),
        (["notify"], "actions[0] must be a JSON object"),
        ([{"type": "sms"}], "actions[0].type must be one of notify, escalate, create_task"),
        ([{"recipient": "admins"}], "actions[0].type must be one of"),
        ([{"type": "notify", "recipient": "boss"}], "actions[0].recipient must be one of"),
        ([{"type": "notify"}], "actions[0].recipient must be one of"),
        (
            [{"type": "notify", "recipient": "admins", "channel": "sms"}],
            "actions[0].channel must be one of email, whatsapp",
        ),
        (
            [{"type": "notify", "recipient": "admins", "template": "../../etc/passwd"}],
            "actions[0].template must be one of task_overdue, sla_violation",
        ),
        (
            [{"type": "notify", "recipient": "admins", "to": "x"}],
            "actions[0].to is not a field of a notify action",
        ),
        (
            [{"type": "escalate", "reassign": "yes"}],
            "actions[0].reassign must be true or false",
        ),
        (
            [{"type": "escalate", "reassign": False, "reassign_to": "case_owner"}],
            "actions[0] says reassign false and reassign_to case_owner",
        ),
        (
            [{"type": "escalate", "reassign_to": "admins"}],
            "actions[0].reassign_to must be case_owner",
        ),
        (
            [{"type": "escalate", "raise_priority": "yes"}],
            "actions[0].raise_priority must be true or false",
        ),
        ([{"type": "create_task", "due_in_hours": 4}], "actions[0].title must be"),
        (
            [{"type": "create_task", "title": "x", "due_in_hours": 0}],
            "actions[0].due_in_hours must be a whole number",
        ),
        (
            [{"type": "create_task", "title": "x", "due_in_hours": 1.5}],
            "actions[0].due_in_hours must be a whole number",
        ),
        (
            [{"type": "create_task", "title": "x", "due_in_hours": 4, "priority": "Urgent"}],
            "actions[0].priority must be one of Critical, High, Medium, Low",
        ),
        (
            [
                {"type": "notify", "recipient": "admins"},
                {"type": "create_task", "title": "x", "due_in_hours": 4, "assign_to": "admins"},
            ],
            "actions[1].assign_to must be one of assignee, case_owner",
        ),
    ],
)
def test_bad_actions_name_the_field(actions: Any, message: str) -> None:
    with pytest.raises(RuleError) as err:
        validate_actions(actions, "task_overdue")
    assert err.value.message.startswith(message), err.value.message


def test_whole_rule() -> None:
    draft = validate_rule(
        {
            "name": "Escalate Critical reply tasks",
            "trigger_event": "task_overdue",
            "conditions": {"priority": "Critical", "days_overdue": {"gte": 2}},
            "actions": [{"type": "escalate", "reassign_to": "case_owner"}],
        }
    )
    assert draft.trigger_event == "task_overdue"
    assert draft.is_active is True
    # reassign_to, the older spelling of reassign: true; escalation raises by default.
    assert draft.actions == ({"type": "escalate", "reassign": True, "raise_priority": True},)
    with pytest.raises(RuleError, match=r"^trigger_event must be one of task_overdue"):
        validate_rule({"name": "x", "trigger_event": "hearing_missed", "actions": []})
    with pytest.raises(RuleError, match=r"^name must be a non-empty string"):
        validate_rule({"trigger_event": "task_overdue", "actions": []})
    with pytest.raises(RuleError, match=r"^enabled is not a field of a rule"):
        validate_rule({"name": "x", "enabled": True})


def test_demo_rules_are_valid() -> None:
    for name, trigger, conditions, actions in DEMO_RULES:
        validate_rule(
            {"name": name, "trigger_event": trigger, "conditions": conditions, "actions": actions}
        )


def test_file_text_names_file_and_position() -> None:
    good = '{"name": "a", "trigger_event": "sla_violation", "actions": [{"type": "notify", "recipient": "admins"}]}'  # noqa: E501
    assert len(parse_rules_text(good, "r.json")) == 1
    assert len(parse_rules_text(f"[{good}, {good}]", "r.json")) == 2
    with pytest.raises(RuleError, match=r"^r\.json: \[1\]\.actions\[0\]\.recipient must be"):
        parse_rules_text(f"[{good}, {good.replace('admins', 'everyone')}]", "r.json")
    with pytest.raises(RuleError, match=r"^r\.json is not JSON: .* line 1 column"):
        parse_rules_text("{name: 1}", "r.json")


def test_template_must_be_one_the_notification_layer_renders() -> None:
    assert RULE_TEMPLATES == {
        "task_overdue": ("task_overdue", "sla_violation", "deadline_approaching"),
        "sla_violation": ("task_overdue", "sla_violation", "deadline_approaching"),
        "deadline_approaching": ("deadline_approaching",),
        # limitation-watch's events concern a proceeding, not a task or hearing: no
        # rule-notification template renders them (limitation_alert is the job's own).
        "limitation_approaching": (),
        "limitation_lapsed": (),
        "condonation_closing": (),
        "limitation_defence_found": (),
        "adjournment_cap_reached": (),
    }
    for trigger, names in RULE_TEMPLATES.items():
        assert set(names) <= set(TEMPLATES)
        for name in names:
            (action,) = validate_actions(
                [{"type": "notify", "recipient": "admins", "template": name}], trigger
            )
            assert action["template"] == name
    for bad in ("sla_alert", "hearing_reminder", "health_alert", "Task_Overdue", 7):
        with pytest.raises(RuleError) as err:
            validate_actions(
                [
                    {"type": "escalate", "raise_priority": True},
                    {"type": "notify", "recipient": "admins", "template": bad},
                ],
                "task_overdue",
            )
        assert err.value.message == (
            "actions[1].template must be one of task_overdue, sla_violation, "
            f"deadline_approaching (got {json.dumps(bad)})"
        )
    with pytest.raises(RuleError) as err:
        validate_actions(
            [{"type": "notify", "recipient": "admins", "template": "task_overdue"}],
            "deadline_approaching",
        )
    assert err.value.message == (
        "actions[0].template must be one of deadline_approaching "
        'for a deadline_approaching rule (got "task_overdue")'
    )


ENVELOPE = Envelope(1, "Asha", "Mehta & Associates", "Asia/Kolkata", AS_OF, "https://x.in")
CASE = {"id": "c1", "case_number": "DRC-01/2025/1", "title": "Demand u/s 73"}
TASK = {
    "id": "t1",
    "title": "Reply",
    "priority": "High",
    "status": "Pending",
    "due_date": "2025-01-14T10:00:00+00:00",
}
RULE_PAYLOADS = {  # what actions.NOTIFY queues, per kind of event
    "task": {"task": TASK, "case": CASE, "event": {"task_id": "t1", "days_overdue": 2}},
    "hearing": {
        "task": None,
        "case": CASE,
        "event": {"entity_type": "hearing", "entity_id": "h1", "hours_until_due": 5},
    },
}


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("kind", sorted(RULE_PAYLOADS))
def test_rule_templates_are_those_that_render_the_rule_payload(template: str, kind: str) -> None:
    payload = {"rule_id": "r1", "rule_name": "Rule", "event_type": "x", **RULE_PAYLOADS[kind]}
    # Task events come from every trigger, hearing events only from deadline_approaching.
    triggers = TRIGGERS if kind == "task" else tuple(set(TRIGGERS) - set(TASK_TRIGGERS))
    allowed = any(template in RULE_TEMPLATES[t] for t in triggers)
    if allowed:
        assert render(template, payload, ENVELOPE).subject
    else:
        with pytest.raises(RenderError):
            render(template, payload, ENVELOPE)
