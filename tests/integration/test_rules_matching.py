"""gstjobs_rule_matches (002_automation.sql): each operator on both sides of its edge."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

EVENT = {
    "priority": "Critical",
    "days_overdue": 2,
    "hours_overdue": 49.5,
    "entity_type": "task",
    "case_id": None,
}


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ({}, True),
        ({"priority": "Critical"}, True),
        ({"priority": "High"}, False),
        ({"days_overdue": 2}, True),
        ({"days_overdue": 2.0}, True),
        ({"days_overdue": "2"}, False),  # types matter: the string "2" is not the number 2
        ({"priority": {"eq": "Critical"}}, True),
        ({"priority": {"eq": "critical"}}, False),
        ({"priority": {"ne": "Low"}}, True),
        ({"priority": {"ne": "Critical"}}, False),
        ({"priority": {"in": ["Critical", "High"]}}, True),
        ({"priority": {"in": ["Medium", "Low"]}}, False),
        ({"priority": {"not_in": ["Medium", "Low"]}}, True),
        ({"priority": {"not_in": ["Critical"]}}, False),
        ({"days_overdue": {"gt": 1}}, True),
        ({"days_overdue": {"gt": 2}}, False),
        ({"days_overdue": {"gte": 2}}, True),
        ({"days_overdue": {"gte": 3}}, False),
        ({"days_overdue": {"lt": 3}}, True),
        ({"days_overdue": {"lt": 2}}, False),
        ({"days_overdue": {"lte": 2}}, True),
        ({"days_overdue": {"lte": 1}}, False),
        ({"hours_overdue": {"gt": 49, "lt": 50}}, True),  # all operators must hold
        ({"hours_overdue": {"gt": 49, "lt": 49.5}}, False),
        ({"priority": "Critical", "days_overdue": {"gte": 3}}, False),  # all fields must hold
        ({"priority": {"gt": 1}}, False),  # ordering against a string never matches
        # A missing field (or JSON null) satisfies only ne and not_in.
        ({"hours_until_due": {"lte": 24}}, False),
        ({"hours_until_due": 0}, False),
        ({"sla_threshold": {"eq": 24}}, False),
        ({"sla_threshold": {"in": [24]}}, False),
        ({"sla_threshold": {"ne": 24}}, True),
        ({"sla_threshold": {"not_in": [24]}}, True),
        ({"case_id": {"ne": "x"}}, True),
        ({"case_id": {"in": ["x"]}}, False),
    ],
)
def test_operator(engine: Engine, conditions: dict[str, Any], expected: bool) -> None:
    with engine.connect() as conn:
        got = conn.execute(
            text("SELECT gstjobs_rule_matches(CAST(:c AS jsonb), CAST(:d AS jsonb))"),
            {"c": json.dumps(conditions), "d": json.dumps(EVENT)},
        ).scalar_one()
    assert got is expected


def test_unknown_operator_is_an_error_not_a_match(engine: Engine) -> None:
    with engine.connect() as conn, pytest.raises(DBAPIError, match="unknown rule operator"):
        conn.execute(
            text("SELECT gstjobs_rule_matches(CAST(:c AS jsonb), '{}'::jsonb)"),
            {"c": json.dumps({"priority": {"like": "C%"}})},
        )
