"""Taking due outbox rows: urgent first, quiet hours, the per-practice cap, the lease.

A row is *due* when it is ``pending`` and ``next_attempt_at`` has come. A delivery
run first lists the practices with due rows, each with whether it is in its quiet
hours now (``tenants.quiet_hours_start``/``_end``, else GSTJOBS_QUIET_HOURS, in the
practice's timezone) and when they end. Routine rows of a practice in quiet hours
are *held*: their ``next_attempt_at`` moves to the end of the quiet hours, so they
show as waiting in ``notify list`` and nothing takes them early.

Claims then go practice by practice in two passes: first the messages whose
urgency is 1 or more (a hearing today or tomorrow, a deadline within 24 hours),
then routine ones, so that older routine rows never spend a practice's cap before
its reminders. A *message* is one row, or every due rule notification of one person
and channel (a digest, ``notify.digest``); the cap counts messages. Claiming takes
the rows with ``FOR UPDATE SKIP LOCKED``, counts the attempt, stamps the rows with
the claimer's token and moves ``next_attempt_at`` a lease ahead, in one statement
that commits at once: a second sender neither blocks nor sees them.

Every statement reads the database clock itself (NOW), unless a test fixes ``:now``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, text

from gstjobs.notify.templates import DIGESTED

NOW = "COALESCE(CAST(:now AS timestamptz), statement_timestamp())"
URGENT = 2
"""Goes even in quiet hours: a hearing today, a deadline within 24 hours."""
SOON = 1
"""Goes before routine rows, after quiet hours: a hearing tomorrow."""
ROUTINE = 0

_SCOPE = """
    n.status = 'pending'
    AND (CAST(:run_id AS bigint) IS NULL OR n.run_id = :run_id)
"""
"""Rows a run may take: pending; only its own when a queuing job sends (``:run_id``)."""


def quiet_window(moment: str) -> str:
    """SQL: per practice of ``:tenants``, whether ``moment`` (an SQL timestamptz) falls in
    its quiet hours (``tenants.quiet_hours_start``/``_end``, else ``:quiet_start`` and
    ``:quiet_end``, in its timezone) and when they end. The delivery job holds routine
    rows by it; the limitation watch decides by it which alerts cannot wait."""
    return f"""
    SELECT tn.id AS tenant_id, tn.timezone, q.start_at, q.end_at,
           q.start_at IS NOT NULL AND q.start_at <> q.end_at
           AND CASE WHEN q.start_at < q.end_at
                    THEN q.local_time >= q.start_at AND q.local_time < q.end_at
                    ELSE q.local_time >= q.start_at OR q.local_time < q.end_at END AS quiet,
           ((q.local_day + CASE WHEN q.local_time < q.end_at THEN 0 ELSE 1 END) + q.end_at)
               AT TIME ZONE tn.timezone AS quiet_until
    FROM tenants tn
    CROSS JOIN LATERAL (
        SELECT COALESCE(tn.quiet_hours_start, CAST(:quiet_start AS time)) AS start_at,
               COALESCE(tn.quiet_hours_end, CAST(:quiet_end AS time)) AS end_at,
               CAST(({moment} AT TIME ZONE tn.timezone) AS time) AS local_time,
               CAST(({moment} AT TIME ZONE tn.timezone) AS date) AS local_day
    ) q
    WHERE tn.id = ANY(:tenants)
"""


_QUIET = quiet_window(NOW)
"""Per practice of ``:tenants``: whether it is in its quiet hours now, and until when."""

TENANTS = text(
    f"""
    WITH quiet AS ({_QUIET})
    SELECT q.tenant_id, q.quiet, q.quiet_until, d.top, d.bottom
    FROM quiet q
    CROSS JOIN LATERAL (
        SELECT max(n.urgency) AS top, min(n.urgency) AS bottom
        FROM notifications n
        WHERE n.tenant_id = q.tenant_id AND {_SCOPE} AND n.next_attempt_at <= {NOW}
    ) d
    WHERE d.top IS NOT NULL
    ORDER BY d.top DESC, q.tenant_id
    """
)

HOLD = text(
    f"""
    WITH quiet AS ({_QUIET})
    UPDATE notifications n
    SET next_attempt_at = q.quiet_until
    FROM quiet q
    WHERE q.quiet AND n.tenant_id = q.tenant_id AND {_SCOPE}
      AND n.urgency < {URGENT} AND n.next_attempt_at < q.quiet_until
      -- not under another sender's live lease
      AND (n.claim_token IS NULL OR n.next_attempt_at <= {NOW})
    """
)

_MESSAGES = f"""
    due AS (
        SELECT n.id, n.urgency,
               CASE WHEN n.template = ANY(:digested)
                    THEN 'd:' || n.user_id::text || ':' || n.channel
                    ELSE 'n:' || n.id::text END AS message
        FROM notifications n
        WHERE n.tenant_id = :tenant AND {_SCOPE} AND n.next_attempt_at <= {NOW}
          AND n.urgency >= :floor AND n.channel <> ALL(:stopped)
    ), messages AS (
        SELECT d.message
        FROM due d
        GROUP BY d.message
        HAVING max(d.urgency) BETWEEN :lowest AND :highest
        ORDER BY max(d.urgency) DESC, min(d.id)
        LIMIT :room
    )
"""
"""The practice's next ``:room`` messages: rows urgent enough to go now (``:floor``:
2 in quiet hours), grouped into digests, taken by the most urgent row of each
message within the pass (``:lowest``..``:highest``), then the oldest."""

_ROW = """
    t.name AS firm_name, t.timezone,
    u.id IS NOT NULL AND u.is_active AS active,
    u.full_name, u.email, u.phone, COALESCE(u.whatsapp_opt_in, false) AS whatsapp_opt_in
"""

CLAIM = text(
    f"""
    WITH {_MESSAGES}, picked AS (
        SELECT n.id
        FROM notifications n
        WHERE n.id IN (SELECT d.id FROM due d JOIN messages m ON m.message = d.message)
          AND n.status = 'pending' AND n.next_attempt_at <= {NOW}
        FOR UPDATE SKIP LOCKED
    ), claimed AS (
        UPDATE notifications n
        SET attempts = n.attempts + 1, claim_token = :token,
            next_attempt_at = {NOW} + make_interval(secs => :lease)
        FROM picked p
        WHERE n.id = p.id
        RETURNING n.id, n.tenant_id, n.user_id, n.channel, n.template, n.payload,
                  n.attempts, n.urgency
    )
    SELECT c.*, {NOW} AS claimed_at, {_ROW}
    FROM claimed c
    JOIN tenants t ON t.id = c.tenant_id
    LEFT JOIN users u ON u.id = c.user_id AND u.tenant_id = c.tenant_id
    ORDER BY c.urgency DESC, c.id
    """
)

PEEK = text(
    f"""
    WITH {_MESSAGES}
    SELECT n.id, n.tenant_id, n.user_id, n.channel, n.template, n.payload, n.attempts,
           n.urgency, {NOW} AS claimed_at, {_ROW}
    FROM notifications n
    JOIN due d ON d.id = n.id
    JOIN messages m ON m.message = d.message
    JOIN tenants t ON t.id = n.tenant_id
    LEFT JOIN users u ON u.id = n.user_id AND u.tenant_id = n.tenant_id
    ORDER BY n.urgency DESC, n.id
    """
)
"""What CLAIM would take, read only (``--dry-run``)."""

LEFT = text(
    f"""
    WITH quiet AS ({_QUIET})
    SELECT count(*) FILTER (WHERE n.next_attempt_at <= {NOW}
                              AND NOT (q.quiet AND n.urgency < {URGENT})) AS due,
           count(*) FILTER (WHERE q.quiet AND n.urgency < {URGENT}
                              AND n.next_attempt_at <= q.quiet_until
                              AND (n.claim_token IS NULL OR n.next_attempt_at <= {NOW}))
               AS held
    FROM notifications n
    JOIN quiet q ON q.tenant_id = n.tenant_id
    WHERE {_SCOPE}
    """
)
"""After a run: rows still due (over the cap, past the deadline, their channel
stopped) and rows waiting for the end of quiet hours."""


@dataclass(frozen=True)
class Practice:
    tenant_id: UUID
    quiet: bool
    quiet_until: datetime
    top: int
    """The highest urgency among its due rows."""
    bottom: int
    """The lowest."""


@dataclass(frozen=True)
class Scope:
    """Which rows a run works on, and the clock its statements read."""

    tenants: list[UUID]
    run_id: int | None
    quiet_hours: tuple[time, time] | None
    now: datetime | None

    def params(self) -> dict[str, Any]:
        start, end = self.quiet_hours or (None, None)
        return {
            "tenants": self.tenants,
            "run_id": self.run_id,
            "quiet_start": start,
            "quiet_end": end,
            "now": self.now,
        }


def practices(conn: Connection, scope: Scope) -> list[Practice]:
    rows = conn.execute(TENANTS, scope.params())
    return [Practice(r.tenant_id, r.quiet, r.quiet_until, r.top, r.bottom) for r in rows]


def hold(conn: Connection, scope: Scope) -> int:
    """Move routine due rows of practices in quiet hours to the end of them."""
    return conn.execute(HOLD, scope.params()).rowcount


def take(
    conn: Connection,
    scope: Scope,
    practice: Practice,
    *,
    lowest: int,
    highest: int,
    room: int,
    stopped: list[str],
    token: UUID | None,
    lease: float,
) -> list[Any]:
    """Claim (or, with no ``token``, only read) the practice's next ``room`` messages."""
    params = scope.params() | {
        "tenant": practice.tenant_id,
        "digested": list(DIGESTED),
        "floor": URGENT if practice.quiet else ROUTINE,
        "lowest": lowest,
        "highest": highest,
        "room": room,
        "stopped": stopped,
        "token": token,
        "lease": lease,
    }
    return list(conn.execute(CLAIM if token is not None else PEEK, params))


def left(conn: Connection, scope: Scope) -> tuple[int, int]:
    """(still due, held for quiet hours) among the run's rows."""
    row = conn.execute(LEFT, scope.params()).one()
    return int(row.due), int(row.held)
