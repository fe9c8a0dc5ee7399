"""Taking snapshots: measure the points, judge each day against the days before, upsert.

Three statements whatever the number of tenants and days: one measures every
point (``metrics.measure``), one reads the history the anomaly rule needs, one
upserts every row. The anomaly rule for day D looks at days D-7 … D-1, so points
are judged in date order and each judged day joins the history of the next: a
backfilled range is consistent with itself, as if each night had run in turn.

Re-taking a day replaces its row (the unique key on tenant, metric type and date);
a row whose value would not change is left alone, so an identical re-run writes
nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, text

from gstjobs.analytics import anomalies
from gstjobs.analytics.metrics import Point, measure
from gstjobs.clock import iso_z

METRIC_TYPE = "daily_snapshot"

HISTORY = text(
    """
    SELECT tenant_id, snapshot_date, metric_value
    FROM analytics_snapshots
    WHERE metric_type = :metric_type AND tenant_id = ANY(:tenants)
      AND snapshot_date >= :first AND snapshot_date < :last
    """
)

UPSERT = text(
    """
    WITH incoming AS (
        SELECT r.tenant_id, r.snapshot_date, r.metric_value
        FROM jsonb_to_recordset(CAST(:rows AS jsonb))
             AS r (tenant_id uuid, snapshot_date date, metric_value jsonb)
    ), upserted AS (
        INSERT INTO analytics_snapshots (tenant_id, metric_type, snapshot_date, metric_value)
        SELECT i.tenant_id, CAST(:metric_type AS text), i.snapshot_date, i.metric_value
        FROM incoming i
        ON CONFLICT (tenant_id, metric_type, snapshot_date) DO UPDATE
        SET metric_value = EXCLUDED.metric_value, created_at = now()
        WHERE analytics_snapshots.metric_value IS DISTINCT FROM EXCLUDED.metric_value
        RETURNING (xmax = 0) AS inserted
    )
    SELECT count(*) FILTER (WHERE inserted) AS inserted,
           count(*) FILTER (WHERE NOT inserted) AS replaced
    FROM upserted
    """
)


def take(
    conn: Connection,
    tenant_ids: Sequence[UUID],
    points: Sequence[Point],
    sla_hours: Mapping[str, int],
) -> dict[str, Any]:
    """Measure, judge and store ``points`` (of ``tenant_ids``); the run's results."""
    ordered = sorted(points, key=lambda p: (p.snapshot_date, str(p.tenant_id)))
    measured = measure(conn, tenant_ids, ordered, sla_hours)
    history = _history(conn, tenant_ids, ordered)
    rows: list[dict[str, Any]] = []
    found = 0
    for pt, counts in measured:
        values = counts.metrics()
        window = [
            history[(pt.tenant_id, pt.snapshot_date - timedelta(days=back))]
            for back in range(1, anomalies.WINDOW_DAYS + 1)
            if (pt.tenant_id, pt.snapshot_date - timedelta(days=back)) in history
        ]
        flagged = anomalies.detect(values, window)
        found += len(flagged)
        value = {
            **values,
            "anomaly_detected": bool(flagged),
            "anomalies": [a.as_json() for a in flagged],
            "counts": counts.as_json(),
            "as_of": iso_z(pt.cutoff),
        }
        history[(pt.tenant_id, pt.snapshot_date)] = value
        rows.append(
            {
                "tenant_id": str(pt.tenant_id),
                "snapshot_date": pt.snapshot_date.isoformat(),
                "metric_value": value,
            }
        )
    inserted, replaced = _write(conn, rows)
    dates = [p.snapshot_date for p in ordered]
    return {
        "tenants": len(tenant_ids),
        "snapshotsWritten": inserted + replaced,
        "snapshotsReplaced": replaced,
        "snapshotsUnchanged": len(rows) - inserted - replaced,
        "anomaliesDetected": found,
        "fromDate": min(dates).isoformat() if dates else None,
        "toDate": max(dates).isoformat() if dates else None,
    }


def _history(
    conn: Connection, tenants: Sequence[UUID], points: Sequence[Point]
) -> dict[tuple[UUID, date], Mapping[str, Any]]:
    if not points:
        return {}
    first = min(p.snapshot_date for p in points) - timedelta(days=anomalies.WINDOW_DAYS)
    last = max(p.snapshot_date for p in points)
    rows = conn.execute(
        HISTORY,
        {"metric_type": METRIC_TYPE, "tenants": list(tenants), "first": first, "last": last},
    )
    return {(r.tenant_id, r.snapshot_date): r.metric_value for r in rows}


def _write(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
    if not rows:
        return 0, 0
    done = conn.execute(UPSERT, {"rows": json.dumps(rows), "metric_type": METRIC_TYPE}).one()
    return int(done.inserted), int(done.replaced)
