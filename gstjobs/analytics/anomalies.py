"""The anomaly rule, pure: a metric more than 30% away from its recent average.

For day D, the history is the tenant's daily snapshots dated D-7 … D-1 (at most 7).
A metric is checked when today's value is not null and at least 3 of those
snapshots hold a non-null value for it. With ``avg`` their mean:

* ``deviation = |value - avg| / avg``; an anomaly when ``deviation > 0.30`` (30% exactly
  is not one);
* ``avg == 0``: a relative deviation is undefined; any non-zero value is an anomaly
  with ``deviation`` null (something appeared where there was nothing), zero is not.

Arithmetic is decimal, so a value exactly 30% away is never tipped over by binary
floating point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

THRESHOLD = Decimal("0.30")
WINDOW_DAYS = 7
MIN_HISTORY = 3

METRICS = (
    "case_count",
    "task_completion_rate",
    "sla_compliance_rate",
    "hearing_attendance_rate",
    "document_count",
    "overdue_tasks",
)
"""The six metrics of the seed, in the order they are stored and shown."""


@dataclass(frozen=True)
class Anomaly:
    metric: str
    value: Decimal
    average: Decimal
    deviation: Decimal | None
    """``|value - average| / average``; None when the average is 0."""

    def as_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "value": _number(self.value),
            "average": float(self.average.quantize(Decimal("0.0001"))),
            "deviation": (
                float(self.deviation.quantize(Decimal("0.0001")))
                if self.deviation is not None
                else None
            ),
        }


def detect(values: Mapping[str, Any], history: Sequence[Mapping[str, Any]]) -> list[Anomaly]:
    """The anomalies of one day's ``values`` against the previous days' snapshots."""
    found: list[Anomaly] = []
    for metric in METRICS:
        value = _decimal(values.get(metric))
        if value is None:
            continue
        past = [d for d in (_decimal(h.get(metric)) for h in history) if d is not None]
        if len(past) < MIN_HISTORY:
            continue
        average = sum(past, Decimal(0)) / len(past)
        if average == 0:
            if value != 0:
                found.append(Anomaly(metric, value, average, None))
            continue
        deviation = abs(value - average) / abs(average)
        if deviation > THRESHOLD:
            found.append(Anomaly(metric, value, average, deviation))
    return found


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    return Decimal(str(value))


def _number(value: Decimal) -> int | float:
    """A count stays an integer; a rate stays a fraction."""
    return int(value) if value.as_tuple().exponent == 0 else float(value)
