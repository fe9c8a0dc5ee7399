"""analytics-snapshot: each tenant's daily metrics, judged against the week before.

For every tenant of the run, one ``analytics_snapshots`` row (metric type
``daily_snapshot``) for the tenant-local date of ``as_of``, holding the seed's six
metrics as they stood at ``as_of``, ``anomaly_detected`` and the list of anomalies.
Metric definitions: gstjobs.analytics.metrics; the anomaly rule:
gstjobs.analytics.anomalies; both in docs/analytics.md. A re-run for the same date
replaces that day's row. Backfilling a range: gstjobs.analytics.backfill.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from gstjobs.analytics import snapshot
from gstjobs.analytics.backfill import points_between
from gstjobs.analytics.metrics import Point, point
from gstjobs.core import JobContext, JobSpec, Results, Tenant, sum_results
from gstjobs.jobs import find
from gstjobs.sla import DEFAULT_SLA_HOURS

JOB_NAME = "analytics-snapshot"


def points_at(tenants: Sequence[Tenant], as_of: datetime) -> list[Point]:
    """One point per tenant: its local date of ``as_of``, data as of ``as_of``."""
    return [
        point(t.id, t.timezone, as_of.astimezone(ZoneInfo(t.timezone)).date(), as_of)
        for t in tenants
    ]


def run(conn: Connection, ctx: JobContext) -> Results:
    return snapshot.take(conn, ctx.tenant_ids, points_at(ctx.tenants, ctx.as_of), DEFAULT_SLA_HOURS)


def merge(parts: Sequence[Mapping[str, Any]]) -> Results:
    """Per-tenant results (the runner's fallback) summed; the date span widened."""
    merged = sum_results(parts)
    for key, pick in (("fromDate", min), ("toDate", max)):
        found = [p[key] for p in parts if p.get(key)]
        merged[key] = pick(found) if found else None
    return merged


def spec_for(first: date, last: date) -> JobSpec:
    """This job working on ``first`` … ``last`` instead of ``as_of`` (a backfill): the
    same lock, ledger and per-tenant fallback; see gstjobs.analytics.backfill."""

    def work(conn: Connection, ctx: JobContext) -> Results:
        points = points_between(ctx.tenants, first, last, ctx.as_of)
        results = snapshot.take(conn, ctx.tenant_ids, points, DEFAULT_SLA_HOURS)
        return results | {
            "fromDate": first.isoformat(),
            "toDate": last.isoformat(),
            "days": (last - first).days + 1,
        }

    return replace(find(JOB_NAME), overrides={"run": work, "merge": _merge_range})


def _merge_range(parts: Sequence[Mapping[str, Any]]) -> Results:
    merged = merge(parts)
    if parts:
        merged["days"] = parts[0].get("days")
    return merged
