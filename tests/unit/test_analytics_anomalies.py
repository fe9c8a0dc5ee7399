"""The anomaly rule, pure: thresholds, the history it needs, zero and null."""

from __future__ import annotations

from typing import Any

import pytest

from gstjobs.analytics.anomalies import detect


def history(*values: Any, metric: str = "document_count") -> list[dict[str, Any]]:
    return [{metric: v} for v in values]


@pytest.mark.parametrize(
    ("value", "flagged"),
    [(129, False), (130, False), (131, True), (71, False), (70, False), (69, True)],
)
def test_threshold_is_strictly_more_than_30_percent(value: int, flagged: bool) -> None:
    found = detect({"document_count": value}, history(100, 100, 100))
    assert bool(found) is flagged


def test_anomaly_carries_value_average_and_deviation() -> None:
    (found,) = detect({"document_count": 131}, history(90, 100, 110))
    assert found.as_json() == {
        "metric": "document_count",
        "value": 131,
        "average": 100.0,
        "deviation": 0.31,
    }


def test_rates_are_compared_exactly_at_the_edge() -> None:
    # avg 0.5; 0.65 is exactly 30% above: binary floats would tip it over.
    assert (
        detect({"sla_compliance_rate": 0.65}, history(0.4, 0.5, 0.6, metric="sla_compliance_rate"))
        == []
    )
    (found,) = detect(
        {"sla_compliance_rate": 0.6501}, history(0.4, 0.5, 0.6, metric="sla_compliance_rate")
    )
    assert found.as_json()["value"] == 0.6501


def test_needs_three_prior_values() -> None:
    assert detect({"document_count": 500}, history(100, 100)) == []
    assert len(detect({"document_count": 500}, history(100, 100, 100))) == 1


def test_null_history_values_do_not_count_towards_the_three() -> None:
    rate = "hearing_attendance_rate"
    assert detect({rate: 0.2}, history(0.9, None, 0.9, None, metric=rate)) == []
    assert len(detect({rate: 0.2}, history(0.9, None, 0.9, 0.9, metric=rate))) == 1


def test_null_value_is_never_an_anomaly() -> None:
    rate = "task_completion_rate"
    assert detect({rate: None}, history(0.9, 0.9, 0.9, metric=rate)) == []


def test_zero_average_flags_any_non_zero_value_without_a_deviation() -> None:
    (found,) = detect({"overdue_tasks": 2}, history(0, 0, 0, metric="overdue_tasks"))
    assert found.as_json() == {
        "metric": "overdue_tasks",
        "value": 2,
        "average": 0.0,
        "deviation": None,
    }
    assert detect({"overdue_tasks": 0}, history(0, 0, 0, metric="overdue_tasks")) == []


def test_each_metric_is_judged_on_its_own() -> None:
    values = {"case_count": 10, "document_count": 200, "overdue_tasks": 3}
    past = [{"case_count": 10, "document_count": 100, "overdue_tasks": 3}] * 3
    assert [a.metric for a in detect(values, past)] == ["document_count"]
