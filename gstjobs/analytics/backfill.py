"""Backfill: snapshots for a range of past dates, in one run of the job.

``gstjobs.jobs.analytics_snapshot.spec_for(first, last)`` is the job with its work
swapped for the range (this module has the pieces: the dates and the checks), so the
run goes through the runner like any other: the same lock (a backfill and the nightly
run never overlap), one ``job_runs`` row and one audit_log row whose
results name the range (``fromDate``, ``toDate``, ``days``), the same per-tenant
fallback. The run's ``as_of`` is the real clock (it is recorded and used as "now");
each day D is measured as it stood at 23:59 of D in the tenant's timezone, the moment
the nightly run would have run, and never later than now: today is measured as of
now and replaced by tonight's run; days after a tenant's local today are skipped.

All days of the range are measured by one statement and written by another; the
anomaly rule walks the days in order so day D is judged against the backfilled days
before it (see gstjobs.analytics.snapshot).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from gstjobs.analytics.metrics import Point, point
from gstjobs.clock import check_in_range
from gstjobs.core import Tenant
from gstjobs.errors import UsageError

NIGHTLY_AT = time(23, 59)
"""The schedule's moment (59 23 * * *): a backfilled day is measured as of then."""
MAX_DAYS = 366


def parse_date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(
            f"{option} {value!r} is not a date; use YYYY-MM-DD, e.g. 2026-01-15."
        ) from None


def check_range(first: date, last: date) -> None:
    """UsageError unless ``first <= last``, the range spans at most MAX_DAYS, and its
    days are ones the jobs can measure."""
    for option, day in (("--from", first), ("--to", last)):
        check_in_range(datetime.combine(day, NIGHTLY_AT, tzinfo=UTC), option)
    if first > last:
        raise UsageError(f"--from {first} is after --to {last}; give the earlier date first.")
    if (last - first).days + 1 > MAX_DAYS:
        raise UsageError(
            f"--from {first} --to {last} spans {(last - first).days + 1} days; "
            f"backfill at most {MAX_DAYS} days at a time."
        )


def check_past(last: date, today: date) -> None:
    """UsageError when ``last`` is after ``today``: a snapshot is of what has happened."""
    if last > today:
        raise UsageError(f"--to {last} is in the future (today is {today}); backfill past dates.")


def points_between(
    tenants: Sequence[Tenant], first: date, last: date, now: datetime
) -> list[Point]:
    """Each tenant × each date of the range up to its local today, measured at 23:59 local."""
    out = []
    for tenant in tenants:
        tz = ZoneInfo(tenant.timezone)
        today = now.astimezone(tz).date()
        day = first
        while day <= min(last, today):
            nightly = datetime.combine(day, NIGHTLY_AT, tzinfo=tz)
            out.append(point(tenant.id, tenant.timezone, day, min(nightly, now)))
            day += timedelta(days=1)
    return out
