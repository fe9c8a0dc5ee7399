"""Which day a snapshot is for, its cutoff, sparklines and rates: pure logic."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gstjobs.analytics.backfill import check_past, check_range, parse_date, points_between
from gstjobs.analytics.metrics import Counts, rate
from gstjobs.analytics.trend import sparkline
from gstjobs.core import Tenant
from gstjobs.errors import UsageError
from gstjobs.jobs.analytics_snapshot import points_at

IST = ZoneInfo("Asia/Kolkata")
T_IST = Tenant(uuid.uuid4(), "Asia/Kolkata")
T_UTC = Tenant(uuid.uuid4(), "UTC")


def test_23_59_ist_belongs_to_that_ist_date() -> None:
    as_of = datetime(2026, 1, 15, 18, 29, tzinfo=UTC)  # 23:59 IST
    (p,) = points_at((T_IST,), as_of)
    assert p.snapshot_date == date(2026, 1, 15)
    assert p.cutoff == as_of


def test_00_30_ist_belongs_to_the_next_ist_date_but_not_for_a_utc_tenant() -> None:
    as_of = datetime(2026, 1, 15, 19, 0, tzinfo=UTC)  # 00:30 IST on the 16th
    ist, utc = points_at((T_IST, T_UTC), as_of)
    assert ist.snapshot_date == date(2026, 1, 16)
    assert utc.snapshot_date == date(2026, 1, 15)


def test_hearing_window_starts_at_local_midnight_29_days_back() -> None:
    (p,) = points_at((T_IST,), datetime(2026, 1, 15, 18, 29, tzinfo=UTC))
    assert p.hearings_from == datetime(2025, 12, 17, tzinfo=IST)


def test_backfill_points_are_23_59_local_and_never_after_now() -> None:
    now = datetime(2026, 1, 15, 6, 0, tzinfo=UTC)  # 11:30 IST on the 15th
    points = points_between((T_IST,), date(2026, 1, 13), date(2026, 1, 16), now)
    assert [p.snapshot_date for p in points] == [
        date(2026, 1, 13),
        date(2026, 1, 14),
        date(2026, 1, 15),
    ]
    assert points[0].cutoff == datetime(2026, 1, 13, 23, 59, tzinfo=IST)
    assert points[-1].cutoff == now


def test_backfill_points_follow_each_tenant_timezone() -> None:
    now = datetime(2026, 2, 1, tzinfo=UTC)
    points = points_between((T_IST, T_UTC), date(2026, 1, 10), date(2026, 1, 10), now)
    by_tz = {p.tenant_id: p.cutoff for p in points}
    assert by_tz[T_IST.id] == datetime(2026, 1, 10, 18, 29, tzinfo=UTC)
    assert by_tz[T_UTC.id] == datetime(2026, 1, 10, 23, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        (date(2026, 1, 5), date(2026, 1, 4), "is after --to"),
        (date(2024, 1, 1), date(2026, 1, 15), "at most 366 days"),
    ],
)
def test_check_range_rejects(first: date, last: date, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        check_range(first, last)


def test_check_range_accepts_a_single_day_and_a_year() -> None:
    check_range(date(2026, 1, 15), date(2026, 1, 15))
    check_range(date(2025, 1, 15), date(2026, 1, 15) - timedelta(days=1))


def test_check_past_accepts_today_not_tomorrow() -> None:
    check_past(date(2026, 1, 15), today=date(2026, 1, 15))
    with pytest.raises(UsageError, match="is in the future"):
        check_past(date(2026, 1, 16), today=date(2026, 1, 15))


def test_parse_date_names_the_option() -> None:
    assert parse_date(" 2026-01-15 ", "--from") == date(2026, 1, 15)
    with pytest.raises(UsageError, match=r"^--to '15/01/2026' is not a date; use YYYY-MM-DD"):
        parse_date("15/01/2026", "--to")


def test_rate_of_nothing_is_null_not_zero() -> None:
    assert rate(0, 0) is None
    assert rate(0, 3) == 0.0
    assert rate(2, 3) == 0.6667


def test_counts_to_metrics() -> None:
    metrics = Counts(4, 9, 5, 7, 4, 2, 1, 2, 2).metrics()
    assert metrics == {
        "case_count": 4,
        "task_completion_rate": 0.5556,
        "sla_compliance_rate": 0.5714,
        "hearing_attendance_rate": 0.6667,
        "document_count": 2,
        "overdue_tasks": 2,
    }
    assert Counts(0, 0, 0, 0, 0, 0, 0, 0, 0).metrics()["hearing_attendance_rate"] is None


def test_sparkline_scales_between_min_and_max_with_gaps() -> None:
    assert sparkline([1, 8, None, 4.5]) == "▁█ ▅"
    assert sparkline([0, 0, 0]) == "▁▁▁"
    assert sparkline([5, 5]) == "▄▄"
    assert sparkline([None, None]) == "  "
    assert sparkline([]) == ""
