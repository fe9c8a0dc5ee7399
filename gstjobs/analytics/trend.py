"""The trend view's data: each tenant's metrics over its last N local days. Read only.

Two statements in one read-only transaction: the tenants (with their local today,
from the database clock), then every daily snapshot of the window for all of them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, text

from gstjobs.analytics.anomalies import METRICS
from gstjobs.analytics.snapshot import METRIC_TYPE
from gstjobs.tenants import require_known, timezone_problem

log = logging.getLogger(__name__)

BLOCKS = "▁▂▃▄▅▆▇█"
GAP = " "
"""A day without a snapshot (or a null rate) in a sparkline."""

READ_ONLY = text("SET TRANSACTION READ ONLY")
TENANTS = text(
    """
    SELECT tn.id, tn.name, tn.timezone, gstjobs_timezone_ok(tn.timezone) AS known,
           CASE WHEN gstjobs_timezone_ok(tn.timezone)
                THEN (now() AT TIME ZONE tn.timezone)::date END AS today
    FROM tenants tn
    WHERE cardinality(CAST(:ids AS uuid[])) = 0 OR tn.id = ANY(:ids)
    ORDER BY tn.name, tn.id
    """
)
SNAPSHOTS = text(
    """
    SELECT s.tenant_id, s.snapshot_date, s.metric_value
    FROM analytics_snapshots s
    JOIN tenants tn ON tn.id = s.tenant_id
    -- CASE, so a practice whose zone PostgreSQL cannot read is never evaluated in it.
    CROSS JOIN LATERAL (SELECT CASE WHEN gstjobs_timezone_ok(tn.timezone)
                                    THEN (now() AT TIME ZONE tn.timezone)::date END AS today) l
    WHERE s.metric_type = :metric_type
      AND (cardinality(CAST(:ids AS uuid[])) = 0 OR s.tenant_id = ANY(:ids))
      AND s.snapshot_date > l.today - CAST(:days AS integer)
      AND s.snapshot_date <= l.today
    ORDER BY s.tenant_id, s.snapshot_date
    """
)


@dataclass(frozen=True)
class DayAnomaly:
    day: date
    value: int | float
    average: float
    deviation: float | None


@dataclass(frozen=True)
class Series:
    metric: str
    values: tuple[int | float | None, ...]
    """One per day of the window, oldest first; None: no snapshot, or a null rate."""
    anomalies: tuple[DayAnomaly, ...]

    @property
    def present(self) -> list[int | float]:
        return [v for v in self.values if v is not None]

    @property
    def first(self) -> int | float | None:
        return self.present[0] if self.present else None

    @property
    def last(self) -> int | float | None:
        return self.present[-1] if self.present else None

    @property
    def minimum(self) -> int | float | None:
        return min(self.present) if self.present else None

    @property
    def maximum(self) -> int | float | None:
        return max(self.present) if self.present else None


@dataclass(frozen=True)
class TenantTrend:
    tenant_id: UUID
    name: str
    """The practice's name (not personal data)."""
    dates: tuple[date, ...]
    snapshots: int
    series: tuple[Series, ...]


def load(conn: Connection, tenant_ids: Sequence[UUID], days: int) -> list[TenantTrend]:
    """Each tenant's last ``days`` local days; UsageError for an unknown tenant id.

    Run it in a transaction begun with READ_ONLY: the view never writes.
    """
    ids = list(tenant_ids)
    tenants = conn.execute(TENANTS, {"ids": ids}).fetchall()
    require_known(ids, (t.id for t in tenants))
    found: dict[UUID, dict[date, dict[str, Any]]] = {}
    for row in conn.execute(SNAPSHOTS, {"ids": ids, "days": days, "metric_type": METRIC_TYPE}):
        found.setdefault(row.tenant_id, {})[row.snapshot_date] = row.metric_value
    out = []
    for t in tenants:
        problem = timezone_problem(t.timezone, t.known)
        if problem is not None:
            log.warning("practice %s left out: %s", t.id, problem)
            continue
        dates = tuple(t.today - timedelta(days=back) for back in range(days - 1, -1, -1))
        snaps = found.get(t.id, {})
        out.append(TenantTrend(t.id, t.name, dates, len(snaps), _series(dates, snaps)))
    return out


def _series(dates: tuple[date, ...], snaps: dict[date, dict[str, Any]]) -> tuple[Series, ...]:
    out = []
    for metric in METRICS:
        values = tuple(snaps.get(d, {}).get(metric) for d in dates)
        flagged = tuple(
            DayAnomaly(d, a["value"], a["average"], a.get("deviation"))
            for d in dates
            for a in snaps.get(d, {}).get("anomalies") or []
            if a.get("metric") == metric
        )
        out.append(Series(metric, values, flagged))
    return tuple(out)


def sparkline(values: Sequence[int | float | None]) -> str:
    """One block character per value, scaled between the series' min and max."""
    present = [v for v in values if v is not None]
    if not present:
        return GAP * len(values)
    low, high = min(present), max(present)
    chars = []
    for v in values:
        if v is None:
            chars.append(GAP)
        elif high == low:
            chars.append(BLOCKS[0] if v == 0 else BLOCKS[len(BLOCKS) // 2 - 1])
        else:
            chars.append(BLOCKS[round((v - low) / (high - low) * (len(BLOCKS) - 1))])
    return "".join(chars)
