"""The outbox as jobs and operators see it: who can receive, listing, re-queuing.

Jobs queue rows with ``per_channel``; delivery takes them (``claim``) and records
their outcome (``record``); ``notify list`` and ``notify retry`` read and re-queue
them here. Nothing here ever shows a name, an address or a phone number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, text


def per_channel(source: str) -> str:
    """SQL selecting the rows of CTE ``source`` (with ``email``, ``phone`` and
    ``whatsapp_opt_in`` columns) once per channel they can receive: email when there is
    an address; WhatsApp when it is configured (bind ``:whatsapp``) and the person opted
    in with a phone. ``source`` is a CTE name of the calling statement, never a value.
    """
    return f"""
        SELECT s.*, ch.channel
        FROM {source} s
        CROSS JOIN (VALUES ('email'), ('whatsapp')) AS ch (channel)
        WHERE (ch.channel = 'email' AND s.email IS NOT NULL)
           OR (ch.channel = 'whatsapp' AND CAST(:whatsapp AS boolean)
               AND s.whatsapp_opt_in AND s.phone IS NOT NULL)
    """


STATUSES = ("pending", "sent", "failed")

LIST = text(
    """
    SELECT n.id, n.tenant_id, n.user_id, n.channel, n.template, n.status, n.attempts,
           n.next_attempt_at, n.last_error, n.provider_message_id, n.created_at, n.sent_at,
           n.run_id, n.urgency
    FROM notifications n
    WHERE (CAST(:status AS text) IS NULL OR n.status = :status)
      AND (CAST(:tenants AS uuid[]) IS NULL OR n.tenant_id = ANY(:tenants))
    ORDER BY n.id DESC
    LIMIT :limit
    """
)

COUNTS = text(
    """
    SELECT n.status, count(*) AS n
    FROM notifications n
    WHERE (CAST(:tenants AS uuid[]) IS NULL OR n.tenant_id = ANY(:tenants))
    GROUP BY n.status
    """
)


RETRY = text(
    """
    WITH picked AS (
        SELECT n.id, n.status AS was
        FROM notifications n
        WHERE (CAST(:ids AS bigint[]) IS NULL OR n.id = ANY(:ids))
          AND (CAST(:channel AS text) IS NULL OR n.channel = :channel)
          AND (CAST(:tenants AS uuid[]) IS NULL OR n.tenant_id = ANY(:tenants))
          AND ((n.status = 'failed' AND (:failed OR CAST(:ids AS bigint[]) IS NOT NULL))
               -- backing off: tried, waiting for its next attempt, nobody sending it
               OR (n.status = 'pending' AND n.attempts > 0 AND n.next_attempt_at > now()
                   AND n.claim_token IS NULL))
        FOR UPDATE SKIP LOCKED
    ), requeued AS (
        UPDATE notifications n
        SET status = 'pending', next_attempt_at = now(),
            attempts = CASE WHEN p.was = 'failed' THEN 0 ELSE n.attempts END
        FROM picked p
        WHERE n.id = p.id
        RETURNING n.id, n.tenant_id, p.was
    ), audited AS (
        INSERT INTO audit_log (tenant_id, action_type, entity_type, details)
        SELECT r.tenant_id, 'notification_retry', 'notification',
               jsonb_build_object(
                   'notification_ids', jsonb_agg(r.id ORDER BY r.id),
                   'from_failed', count(*) FILTER (WHERE r.was = 'failed'),
                   'from_backoff', count(*) FILTER (WHERE r.was = 'pending'),
                   'channel', CAST(:channel AS text))
        FROM requeued r
        GROUP BY r.tenant_id
        RETURNING 1
    )
    SELECT r.id, r.was, (SELECT count(*) FROM audited) AS audit_rows
    FROM requeued r
    ORDER BY r.id
    """
)
"""Failed (``:failed`` or named by id) and backing-off rows become due now, with one
``audit_log`` row per practice naming them. A failed row starts a fresh schedule."""

KNOWN = text("SELECT id FROM notifications WHERE id = ANY(:ids)")


@dataclass(frozen=True)
class Requeued:
    ids: tuple[int, ...]
    from_failed: int
    from_backoff: int


def retry(
    conn: Connection,
    *,
    ids: list[int] | None,
    failed: bool,
    channel: str | None,
    tenants: list[UUID] | None,
) -> Requeued:
    """Re-queue notifications for the next delivery (see RETRY); one transaction."""
    rows = conn.execute(
        RETRY, {"ids": ids, "failed": failed, "channel": channel, "tenants": tenants}
    ).fetchall()
    return Requeued(
        tuple(r.id for r in rows),
        sum(r.was == "failed" for r in rows),
        sum(r.was == "pending" for r in rows),
    )


def unknown(conn: Connection, ids: list[int]) -> list[int]:
    """Those of ``ids`` that name no notification."""
    found = set(conn.execute(KNOWN, {"ids": ids}).scalars())
    return [i for i in ids if i not in found]


@dataclass(frozen=True)
class QueueRow:
    """One outbox row as ``notify list`` shows it: ids, never names or addresses."""

    id: int
    tenant_id: UUID
    user_id: UUID
    channel: str
    template: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    provider_message_id: str | None
    created_at: datetime
    sent_at: datetime | None
    run_id: int | None
    urgency: int


@dataclass(frozen=True)
class Queue:
    rows: tuple[QueueRow, ...]
    counts: dict[str, int]
    total: int
    """How many rows match (``rows`` holds at most the limit of them)."""


def list_queue(
    conn: Connection, *, status: str | None, tenants: list[UUID] | None, limit: int
) -> Queue:
    params: dict[str, Any] = {"status": status, "tenants": tenants, "limit": limit}
    rows = tuple(QueueRow(*r) for r in conn.execute(LIST, params))
    counts = {s: 0 for s in STATUSES}
    counts |= {r.status: r.n for r in conn.execute(COUNTS, params)}
    return Queue(rows, counts, counts.get(status, 0) if status else sum(counts.values()))
