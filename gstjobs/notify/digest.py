"""One message per person: pending rule notifications go out as one digest.

Rule notifications (``templates.DIGESTED``) claimed together for the same person,
practice and channel become one ``rule_digest`` message listing each item, most
urgent first, at most ``GSTJOBS_DIGEST_ITEMS`` of them with a link to the rest. A
task (or other entity) several rules notified about is listed once, as its most urgent
notification, with the task's priority as its newest notification saw it (an
escalation may have raised it). Each outbox row keeps its own de-duplication key and
is marked sent with the digest's provider message id, so accounting stays per item.
A lone rule notification keeps its own template; hearing reminders, deadline digests
and health alerts are never merged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar
from uuid import UUID

from gstjobs.notify.templates import DIGEST, DIGESTED

PRIORITY_RANK = {"Critical": 0, "High": 1, "Medium": 2, "Low": 3}
KIND_RANK = {"deadline_approaching": 0, "sla_violation": 1, "task_overdue": 2}
LABELS = {
    "sla_violation": ("SLA breach", "SLA breaches"),
    "task_overdue": ("overdue task", "overdue tasks"),
    "deadline_approaching": ("deadline approaching", "deadlines approaching"),
    "escalation": ("escalation", "escalations"),
}


class Row(Protocol):
    """What grouping needs of a claimed outbox row."""

    @property
    def id(self) -> int: ...
    @property
    def user_id(self) -> UUID: ...
    @property
    def channel(self) -> str: ...
    @property
    def template(self) -> str: ...
    @property
    def urgency(self) -> int: ...
    @property
    def payload(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=Row)


def group(rows: Iterable[R]) -> list[list[R]]:
    """The messages of one practice's claimed rows, in claim order (most urgent first).

    Rule notifications of one person and channel form one group; every other row is a
    message of its own.
    """
    messages: list[list[R]] = []
    digests: dict[tuple[UUID, str], list[R]] = {}
    for row in rows:
        if row.template not in DIGESTED:
            messages.append([row])
            continue
        key = (row.user_id, row.channel)
        if key not in digests:
            digests[key] = []
            messages.append(digests[key])
        digests[key].append(row)
    return messages


def template_of(rows: Sequence[Row]) -> str:
    """The template a message renders: its row's own, or the digest for several."""
    return rows[0].template if len(rows) == 1 else DIGEST


def payload(rows: Sequence[Row], max_items: int) -> dict[str, Any]:
    """The digest's payload: one item per task or entity, most urgent first (at most
    ``max_items``), and counts (``total`` items, ``notifications`` rows)."""
    newest: dict[tuple[str, ...], Row] = {}
    for row in rows:
        key = _subject(row)
        if key not in newest or row.id > newest[key].id:
            newest[key] = row
    kept: dict[tuple[str, ...], Row] = {}
    for row in sorted(rows, key=_urgency):
        kept.setdefault(_subject(row), row)
    ordered = list(kept.values())
    counts: dict[str, int] = {}
    for row in ordered:
        counts[row.template] = counts.get(row.template, 0) + 1
    kinds = sorted(counts, key=lambda k: (KIND_RANK.get(k, len(KIND_RANK)), k))
    return {
        "total": len(ordered),
        "notifications": len(rows),
        "summary": ", ".join(_count(kind, counts[kind]) for kind in kinds),
        "items": [_item(row, newest[_subject(row)]) for row in ordered[:max_items]],
    }


def _subject(row: Row) -> tuple[str, ...]:
    """What a notification is about: its task, else its event's entity, else itself."""
    data: Mapping[str, Any] = row.payload
    task = data.get("task") or {}
    event = data.get("event") or {}
    if task.get("id") or event.get("task_id"):
        return ("task", str(task.get("id") or event.get("task_id")))
    if event.get("entity_type") and event.get("entity_id"):
        return (str(event["entity_type"]), str(event["entity_id"]))
    return ("notification", str(row.id))


def _item(row: Row, newest: Row) -> dict[str, Any]:
    """The most urgent notification about a subject, with the task as last seen."""
    task = newest.payload.get("task") or row.payload.get("task")
    event = row.payload.get("event") or {}
    priority = (task or {}).get("priority") or event.get("priority")
    return {
        "notification_id": row.id,
        "template": row.template,
        "rule_name": row.payload.get("rule_name", ""),
        "event": {**event, "priority": priority} if priority else event,
        "task": task,
        "case": row.payload.get("case"),
    }


def _urgency(row: Row) -> tuple[int, int, int, int]:
    """Most urgent first: the row's urgency, then priority, then kind, then age."""
    data: Mapping[str, Any] = row.payload
    task = data.get("task") or {}
    event = data.get("event") or {}
    priority = task.get("priority") or event.get("priority")
    return (
        -row.urgency,
        PRIORITY_RANK.get(str(priority), len(PRIORITY_RANK)),
        KIND_RANK.get(row.template, len(KIND_RANK)),
        row.id,
    )


def _count(kind: str, n: int) -> str:
    one, many = LABELS.get(kind, (kind.replace("_", " "), kind.replace("_", " ")))
    return f"{n} {one if n == 1 else many}"
