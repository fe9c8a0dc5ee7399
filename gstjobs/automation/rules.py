"""The rule language: validation and normalisation of ``automation_rules`` JSON.

A rule is ``trigger_event`` + ``conditions`` (a JSON object over the event's data) +
``actions`` (a JSON array). Everything is checked here, in Python, before the engine
runs a rule; the SQL matcher (``gstjobs_rule_matches`` in 002_automation.sql) only
ever sees conditions that passed. Each problem is one ``RuleError`` whose message
names the bad field, e.g. ``actions[0].recipient must be one of assignee, case_owner,
admins (got "boss")``. The language is documented in docs/rules.md.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gstjobs.errors import RuleError
from gstjobs.notify.templates import TEMPLATES

LIMITATION_TRIGGERS = (
    "limitation_approaching",
    "limitation_lapsed",
    "condonation_closing",
    "limitation_defence_found",
    "adjournment_cap_reached",
)
"""limitation-watch's events (gstjobs.limitation.alerts): a proceeding, not a task."""
TRIGGERS = ("task_overdue", "sla_violation", "deadline_approaching", *LIMITATION_TRIGGERS)
OPERATORS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte")
ORDERING = ("gt", "gte", "lt", "lte")
LISTS = ("in", "not_in")
ACTION_TYPES = ("notify", "escalate", "create_task")
RECIPIENTS = ("assignee", "case_owner", "admins")
CHANNELS = ("email", "whatsapp")
PRIORITIES = ("Critical", "High", "Medium", "Low")
ASSIGNEES = ("assignee", "case_owner")
MAX_DUE_IN_HOURS = 24 * 365
MAX_TITLE = 500
TASK_TRIGGERS = ("task_overdue", "sla_violation")
"""Triggers whose events always concern a task (deadline_approaching may be a hearing)."""
_RULE_PAYLOAD_TEMPLATES = tuple(name for name in TEMPLATES if name in TRIGGERS)
RULE_TEMPLATES = {
    trigger: tuple(
        name for name in _RULE_PAYLOAD_TEMPLATES if trigger in TASK_TRIGGERS or name == trigger
    )
    for trigger in TRIGGERS
}
"""Per trigger, the shipped templates that render its rules' notifications (the payload
of ``actions.NOTIFY``: rule, event, task, case). The other templates (hearing_reminder,
deadline_digest, health_alert) need their own job's data, and task_overdue and
sla_violation need a task, which a deadline_approaching event for a hearing lacks: a rule
naming one of those would only fail at delivery."""

_ACTION_KEYS = {
    "notify": {"type", "recipient", "channel", "template"},
    "escalate": {"type", "raise_priority", "reassign", "reassign_to"},
    "create_task": {"type", "title", "due_in_hours", "priority", "assign_to"},
}
_RULE_KEYS = {"id", "tenant_id", "name", "trigger_event", "conditions", "actions", "is_active"}


@dataclass(frozen=True)
class RuleDraft:
    """A rule as a file or a row gives it, already validated and normalised."""

    name: str
    trigger_event: str
    conditions: dict[str, Any]
    actions: tuple[dict[str, Any], ...]
    """With every default filled in, so SQL reads each field without a fallback."""
    is_active: bool = True


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _one_of(where: str, value: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise RuleError(f"{where} must be one of {', '.join(allowed)} (got {_show(value)})")
    return value


MAX_NUMBER = 10**15
"""What the database accepts in a rule (gstjobs_check_rule_size, migration 006)."""


def _is_scalar(value: Any) -> bool:
    if isinstance(value, bool | str):
        return True
    return _is_number(value)


def _is_number(value: Any) -> bool:
    """A number jsonb can hold and the database takes in a rule: finite (no NaN or
    Infinity, which json.loads accepts and jsonb refuses), under 10^15 in size."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    return math.isfinite(value) and abs(value) < MAX_NUMBER


NUMBER, TEXT, ID = "number", "text", "id"
PRIORITY, ENTITY, DATE_KIND, DATE_STATUS, THRESHOLD = (
    "priority",
    "entity",
    "date kind",
    "date status",
    "threshold",
)
_TASK_EVENT = {"task_id": ID, "case_id": ID, "priority": PRIORITY}
_LIMITATION_EVENT = {
    "rule_id": TEXT,
    "proceeding_id": ID,
    "case_id": ID,
    "fy": TEXT,
    "threshold": THRESHOLD,
    "kind": DATE_KIND,
    "status": DATE_STATUS,
    "due_date": TEXT,
    "outer_date": TEXT,
    "days_left": NUMBER,
    "amount": NUMBER,
}
EVENT_FIELDS: dict[str, dict[str, str]] = {
    "task_overdue": {
        **_TASK_EVENT,
        "days_overdue": NUMBER,
        "hours_overdue": NUMBER,
        "due_date": TEXT,
    },
    "sla_violation": {**_TASK_EVENT, "sla_threshold": NUMBER, "actual_time": NUMBER},
    "deadline_approaching": {
        "entity_type": ENTITY,
        "entity_id": ID,
        "case_id": ID,
        "priority": PRIORITY,
        "hours_until_due": NUMBER,
        "due_date": TEXT,
    },
    **{trigger: _LIMITATION_EVENT for trigger in LIMITATION_TRIGGERS},
    "adjournment_cap_reached": {**_LIMITATION_EVENT, "adjournments": NUMBER},
}
"""The data each trigger's events carry (what sla-check, deadline-alerts and
limitation-watch put in ``automation_events.payload``), each field with what it holds:
a rule naming another field, or testing a field against a value it can never hold,
would never match (or, with ``ne``/``not_in``, match every event), so it is refused."""
_VALUES = {
    PRIORITY: PRIORITIES,
    ENTITY: ("task", "hearing"),
    # limitation_rules.kind and limitation_dates.status (migration 009)
    DATE_KIND: ("hard", "condonable", "officer_extendable", "department", "defence", "info"),
    DATE_STATUS: ("open", "met", "met_late", "lapsed", "not_applicable", "defence_found"),
}
_PATTERNS = {
    # limitation.alerts: T-30 … T-0, outer-7 … outer-0, lapsed, defence, cap, warning
    THRESHOLD: (
        re.compile(r"(T|outer)-\d+|lapsed|defence|cap|warning"),
        "T-<days>, outer-<days>, lapsed, defence, cap or warning",
    ),
    ID: (
        re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
        "a UUID in lower case",
    ),
}


_RAISED: dict[str, dict[str, tuple[str, ...] | re.Pattern[str]]] = {
    "limitation_approaching": {"status": ("open",), "threshold": re.compile(r"T-\d+")},
    "limitation_lapsed": {"status": ("lapsed",), "threshold": ("lapsed",)},
    "condonation_closing": {"status": ("lapsed",), "threshold": re.compile(r"outer-\d+")},
    "limitation_defence_found": {"status": ("defence_found",), "threshold": ("defence",)},
    "adjournment_cap_reached": {"status": ("open",), "threshold": ("cap", "warning")},
}
"""What limitation-watch raises each trigger with (gstjobs.limitation.alerts): a
condition on another value never matches, or with ne / not_in matches every event."""


def validate_conditions(
    conditions: Any, where: str = "conditions", trigger_event: str | None = None
) -> dict[str, Any]:
    """The conditions object, unchanged when valid; RuleError naming the bad field.
    With ``trigger_event``, each field must be one its events carry, tested against
    values it can hold."""
    if not isinstance(conditions, dict):
        raise RuleError(f"{where} must be a JSON object (got {_show(conditions)})")
    fields = EVENT_FIELDS.get(trigger_event or "")
    for field, test in conditions.items():
        here = f"{where}.{field}"
        if not field:
            raise RuleError(f"{where} has an empty field name")
        if isinstance(test, dict):
            if not test:
                raise RuleError(f"{here} must name at least one operator: {', '.join(OPERATORS)}")
            for op, arg in test.items():
                _check_operator(f"{here}.{op}", op, arg)
        elif not _is_scalar(test):
            raise RuleError(
                f"{here} must be a string, number or boolean to match, or an object of "
                f"operators (got {_show(test)})"
            )
        if fields is not None:
            _check_field(here, field, test, trigger_event or "", fields)
    return conditions


def _check_field(here: str, field: str, test: Any, trigger: str, fields: Mapping[str, str]) -> None:
    kind = fields.get(field)
    if kind is None:
        raise RuleError(
            f"{here} is not a field of {trigger} events; use {', '.join(sorted(fields))}"
        )
    tests = test.items() if isinstance(test, dict) else [("eq", test)]
    for op, arg in tests:
        at = f"{here}.{op}" if isinstance(test, dict) else here
        if op in ORDERING:
            if kind != NUMBER:
                raise RuleError(
                    f"{at}: {field} is not a number; compare it with eq, ne, in or not_in"
                )
            continue
        for value in arg if op in LISTS else [arg]:
            if kind == NUMBER and not _is_number(value):
                raise RuleError(f"{at}: {field} is a number (got {_show(value)})")
            if kind in _VALUES and value not in _VALUES[kind]:
                raise RuleError(
                    f"{at}: {field} is one of {', '.join(_VALUES[kind])} (got {_show(value)})"
                )
            if kind not in (NUMBER, *_VALUES) and not isinstance(value, str):
                raise RuleError(f"{at}: {field} is text (got {_show(value)})")
            if kind in _PATTERNS and not _PATTERNS[kind][0].fullmatch(value):
                raise RuleError(f"{at}: {field} is {_PATTERNS[kind][1]} (got {_show(value)})")
            raised = _RAISED.get(trigger, {}).get(field)
            if raised is not None and not (
                raised.fullmatch(value) if isinstance(raised, re.Pattern) else value in raised
            ):
                shown = raised.pattern if isinstance(raised, re.Pattern) else ", ".join(raised)
                raise RuleError(f"{at}: {trigger} events have {field} {shown} (got {_show(value)})")


def _check_operator(where: str, op: str, arg: Any) -> None:
    if op not in OPERATORS:
        raise RuleError(f"{where} is not an operator; use one of {', '.join(OPERATORS)}")
    if op in ORDERING:
        if not _is_number(arg):
            raise RuleError(f"{where} must be a finite number under 10^15 (got {_show(arg)})")
    elif op in LISTS:
        if not isinstance(arg, list) or not arg:
            raise RuleError(f"{where} must be a non-empty list (got {_show(arg)})")
        for i, item in enumerate(arg):
            if not _is_scalar(item):
                raise RuleError(f"{where}[{i}] must be a string, number or boolean")
    elif not _is_scalar(arg):
        raise RuleError(f"{where} must be a string, number or boolean (got {_show(arg)})")


def validate_actions(
    actions: Any, trigger_event: str, where: str = "actions"
) -> list[dict[str, Any]]:
    """The actions, each with its defaults filled in; RuleError naming the bad field."""
    if not isinstance(actions, list) or not actions:
        raise RuleError(f"{where} must be a non-empty JSON array (got {_show(actions)})")
    return [_action(f"{where}[{i}]", a, trigger_event) for i, a in enumerate(actions)]


def _action(where: str, action: Any, trigger_event: str) -> dict[str, Any]:
    if not isinstance(action, dict):
        raise RuleError(f"{where} must be a JSON object with a type (got {_show(action)})")
    kind = _one_of(f"{where}.type", action.get("type"), ACTION_TYPES)
    unknown = sorted(set(action) - _ACTION_KEYS[kind])
    if unknown:
        raise RuleError(
            f"{where}.{unknown[0]} is not a field of a {kind} action; "
            f"use {', '.join(sorted(_ACTION_KEYS[kind] - {'type'}))}"
        )
    if kind == "notify":
        template = action.get("template", trigger_event)
        return {
            "type": kind,
            "recipient": _one_of(f"{where}.recipient", action.get("recipient"), RECIPIENTS),
            "channel": _one_of(f"{where}.channel", action.get("channel", "email"), CHANNELS),
            "template": _template(f"{where}.template", template, trigger_event),
        }
    if kind == "escalate":
        return _escalate(where, action)
    title = action.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE:
        raise RuleError(f"{where}.title must be a non-empty string of at most {MAX_TITLE} chars")
    hours = action.get("due_in_hours")
    if not isinstance(hours, int) or isinstance(hours, bool) or not 0 < hours <= MAX_DUE_IN_HOURS:
        raise RuleError(
            f"{where}.due_in_hours must be a whole number of hours from 1 to {MAX_DUE_IN_HOURS} "
            f"(got {_show(hours)})"
        )
    return {
        "type": kind,
        "title": title.strip(),
        "due_in_hours": hours,
        "priority": _one_of(f"{where}.priority", action.get("priority", "Medium"), PRIORITIES),
        "assign_to": _one_of(f"{where}.assign_to", action.get("assign_to", "assignee"), ASSIGNEES),
    }


def _escalate(where: str, action: dict[str, Any]) -> dict[str, Any]:
    """An escalation raises the task's priority one step (unless ``raise_priority`` is
    false) and tells the case owner; it hands the task to the case owner only when it
    says ``"reassign": true`` (``"reassign_to": "case_owner"``, the older spelling, says
    the same)."""
    raise_priority = action.get("raise_priority", True)
    if not isinstance(raise_priority, bool):
        raise RuleError(f"{where}.raise_priority must be true or false")
    reassign = action.get("reassign", False)
    if not isinstance(reassign, bool):
        raise RuleError(f"{where}.reassign must be true or false (got {_show(reassign)})")
    if "reassign_to" in action:
        if action["reassign_to"] != "case_owner":
            raise RuleError(
                f"{where}.reassign_to must be case_owner (got {_show(action['reassign_to'])})"
            )
        if "reassign" in action and not reassign:
            raise RuleError(f"{where} says reassign false and reassign_to case_owner; give one")
        reassign = True
    return {"type": "escalate", "raise_priority": raise_priority, "reassign": reassign}


def _template(where: str, template: Any, trigger_event: str) -> str:
    allowed = RULE_TEMPLATES.get(trigger_event, _RULE_PAYLOAD_TEMPLATES)
    if not allowed:
        raise RuleError(
            f"{where}: a {trigger_event} rule cannot notify: limitation-watch itself sends "
            "its limitation_alert to the matter owner and the appearing representative "
            "(and the partners where the statutory rule says so); use create_task for "
            "follow-up work"
        )
    if isinstance(template, str) and template in allowed:
        return template
    rule = "" if allowed == _RULE_PAYLOAD_TEMPLATES else f" for a {trigger_event} rule"
    raise RuleError(f"{where} must be one of {', '.join(allowed)}{rule} (got {_show(template)})")


def validate_rule(rule: Any, where: str = "") -> RuleDraft:
    """A whole rule (``name``, ``trigger_event``, ``conditions``, ``actions``, ``is_active``)."""
    prefix = f"{where}." if where else ""
    if not isinstance(rule, Mapping):
        raise RuleError(f"{where or 'the rule'} must be a JSON object (got {_show(rule)})")
    unknown = sorted(set(rule) - _RULE_KEYS)
    if unknown:
        raise RuleError(
            f"{prefix}{unknown[0]} is not a field of a rule; "
            "use name, trigger_event, conditions, actions, is_active"
        )
    name = rule.get("name")
    if not isinstance(name, str) or not name.strip():
        raise RuleError(f"{prefix}name must be a non-empty string (got {_show(name)})")
    trigger = _one_of(f"{prefix}trigger_event", rule.get("trigger_event"), TRIGGERS)
    conditions = validate_conditions(rule.get("conditions", {}), f"{prefix}conditions", trigger)
    actions = validate_actions(rule.get("actions"), trigger, f"{prefix}actions")
    is_active = rule.get("is_active", True)
    if not isinstance(is_active, bool):
        raise RuleError(f"{prefix}is_active must be true or false (got {_show(is_active)})")
    return RuleDraft(name.strip(), trigger, conditions, tuple(actions), is_active)


MAX_JSON_BYTES = 65536
"""A rule's conditions or actions, at most (migration 006 enforces the same in SQL)."""


def decode(source: str, label: str, *, limit: int = MAX_JSON_BYTES) -> Any:
    """JSON text as Python; RuleError for text that is not JSON or that no rule could be:
    larger than ``limit`` bytes, nested too deeply for the decoder, or holding a number
    too large to read (all valid JSON, and valid ``jsonb``)."""
    if len(source.encode()) > limit:
        raise RuleError(f"{label} is larger than {limit // 1024} KiB")
    try:
        return json.loads(source)
    except json.JSONDecodeError as exc:
        raise RuleError(
            f"{label} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except (RecursionError, ValueError) as exc:
        why = (
            "is nested too deeply"
            if isinstance(exc, RecursionError)
            else "holds a number too large"
        )
        raise RuleError(f"{label} cannot be read: it {why}") from None


def parse_rules_text(source: str, label: str) -> list[RuleDraft]:
    """A file's text: one rule object or an array of them. Errors name the file and field."""
    document = decode(source, label, limit=100 * MAX_JSON_BYTES)
    try:
        if isinstance(document, list):
            if not document:
                raise RuleError("the file holds an empty list; give at least one rule")
            return [validate_rule(r, f"[{i}]") for i, r in enumerate(document)]
        return [validate_rule(document)]
    except RuleError as exc:
        raise RuleError(f"{label}: {exc.message}") from None
