"""The outbox's SQL: claiming due rows under a lease, recording outcomes, listing.

A row is *due* when it is ``pending`` and ``next_attempt_at <= now``. Claiming takes
due rows with ``FOR UPDATE SKIP LOCKED`` and, in the same statement, counts the
attempt and moves ``next_attempt_at`` a lease ahead; the claim commits at once. So
a second sender (another process or host) neither blocks nor sees the claimed rows
as due while the first sends them. If the sender dies, the lease runs out and the
row is due again: that is the one window in which a message can go out twice (see
the README (Notifications)). Outcomes are recorded only by the holder of the claim
(``attempts`` unchanged since it claimed).

Every statement reads the database clock itself (``NOW``): recording an outcome is
one UPDATE, with no clock query before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
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


BACKOFF_BASE = timedelta(minutes=5)
"""First retry after 5 minutes, then 10, 20, 40, … (at most BACKOFF_MAX)."""
BACKOFF_MAX = timedelta(hours=6)
STATUSES = ("pending", "sent", "failed")

NOW = "COALESCE(CAST(:now AS timestamptz), statement_timestamp())"
"""The moment of a statement: the database clock when it starts, unless ``:now`` is
given (tests and ``drain(now=…)``). No separate clock query, no round trip."""

DUE_BY_TENANT = text(
    f"""
    SELECT n.tenant_id, count(*) AS due
    FROM notifications n
    WHERE n.tenant_id = ANY(:tenants) AND n.status = 'pending' AND n.next_attempt_at <= {NOW}
      AND (CAST(:run_id AS bigint) IS NULL OR n.run_id = :run_id)
    GROUP BY n.tenant_id
    ORDER BY n.tenant_id
    """
)

CLAIM = text(
    f"""
    WITH picked AS (
        SELECT n.id
        FROM notifications n
        WHERE n.tenant_id = :tenant AND n.status = 'pending' AND n.next_attempt_at <= {NOW}
          AND (CAST(:run_id AS bigint) IS NULL OR n.run_id = :run_id)
        ORDER BY n.next_attempt_at, n.id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ), claimed AS (
        UPDATE notifications n
        SET attempts = n.attempts + 1,
            next_attempt_at = {NOW} + make_interval(secs => :lease)
        FROM picked p
        WHERE n.id = p.id
        RETURNING n.id, n.tenant_id, n.user_id, n.channel, n.template, n.payload, n.attempts
    )
    SELECT c.id, c.tenant_id, c.user_id, c.channel, c.template, c.payload, c.attempts,
           {NOW} AS claimed_at, t.name AS firm_name, t.timezone,
           u.id IS NOT NULL AND u.is_active AS active,
           u.full_name, u.email, u.phone, COALESCE(u.whatsapp_opt_in, false) AS whatsapp_opt_in
    FROM claimed c
    JOIN tenants t ON t.id = c.tenant_id
    LEFT JOIN users u ON u.id = c.user_id AND u.tenant_id = c.tenant_id
    ORDER BY c.id
    """
)

MARK_SENT = text(
    f"""
    UPDATE notifications
    SET status = 'sent', sent_at = {NOW}, provider_message_id = :provider_id
    WHERE id = :id AND status = 'pending' AND attempts = :attempts
    """
)

MARK_FAILED = text(
    f"""
    UPDATE notifications
    SET status = CASE WHEN :give_up THEN 'failed' ELSE 'pending' END,
        last_error = :error,
        next_attempt_at = CASE WHEN :give_up THEN next_attempt_at
                               ELSE {NOW} + make_interval(secs => :backoff) END
    WHERE id = :id AND status = 'pending' AND attempts = :attempts
    """
)

COUNT_DUE = text(
    f"""
    SELECT count(*) FROM notifications n
    WHERE n.tenant_id = ANY(:tenants) AND n.status = 'pending' AND n.next_attempt_at <= {NOW}
      AND (CAST(:run_id AS bigint) IS NULL OR n.run_id = :run_id)
    """
)

LIST = text(
    """
    SELECT n.id, n.tenant_id, n.user_id, n.channel, n.template, n.status, n.attempts,
           n.next_attempt_at, n.last_error, n.provider_message_id, n.created_at, n.sent_at,
           n.run_id
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


def backoff(attempts: int) -> timedelta:
    """Delay before the next attempt after ``attempts`` failed ones."""
    delay: timedelta = BACKOFF_BASE * (2 ** max(attempts - 1, 0))
    return min(delay, BACKOFF_MAX)


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


@dataclass(frozen=True)
class Queue:
    rows: tuple[QueueRow, ...]
    counts: dict[str, int]


def list_queue(
    conn: Connection, *, status: str | None, tenants: list[UUID] | None, limit: int
) -> Queue:
    params: dict[str, Any] = {"status": status, "tenants": tenants, "limit": limit}
    rows = tuple(QueueRow(*r) for r in conn.execute(LIST, params))
    counts = {s: 0 for s in STATUSES}
    counts |= {r.status: r.n for r in conn.execute(COUNTS, params)}
    return Queue(rows, counts)
