"""Moments, spans, schedules, and merging per-tenant results."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gstjobs.clock import iso_z, parse_moment, parse_since, seconds_text
from gstjobs.core import sum_results
from gstjobs.demo import gstin, gstin_check_char
from gstjobs.errors import UsageError
from gstjobs.jobs import JOBS, find
from gstjobs.ledger import schedule_times

IST = ZoneInfo("Asia/Kolkata")


def test_moment_without_offset_is_read_in_the_timezone() -> None:
    assert parse_moment("2026-01-15T10:00", IST) == datetime(2026, 1, 15, 4, 30, tzinfo=UTC)
    assert parse_moment("2026-01-15", IST) == datetime(2026, 1, 14, 18, 30, tzinfo=UTC)
    assert parse_moment("2026-01-15T10:00:00Z", IST) == datetime(2026, 1, 15, 10, tzinfo=UTC)
    assert parse_moment("2026-01-15T10:00+05:30", UTC) == datetime(2026, 1, 15, 4, 30, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["tomorrow", "2026-13-01", "15/01/2026", ""])
def test_bad_moments_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_moment(bad, IST)
    assert "--as-of" in str(info.value)


def test_since_spans() -> None:
    now = datetime(2026, 1, 15, tzinfo=UTC)
    assert parse_since("24h", IST, now) == now - timedelta(hours=24)
    assert parse_since("7d", IST, now) == now - timedelta(days=7)
    assert parse_since("30m", IST, now) == now - timedelta(minutes=30)
    assert parse_since("2w", IST, now) == now - timedelta(weeks=2)
    with pytest.raises(UsageError) as err:
        parse_since("yesterday", IST, now)
    assert err.value.message == (
        "--since 'yesterday' is neither a span nor a moment; use e.g. 30m, 24h, 7d, 2w "
        "or 2026-01-15T08:00."
    )


def test_seed_formats() -> None:
    assert iso_z(datetime(2025, 1, 15, 16, 0, tzinfo=IST)) == "2025-01-15T10:30:00Z"
    assert seconds_text(2.3) == "2.3s"


def test_registry_matches_the_contract() -> None:
    expected = {
        "sla-check": ("check-sla-and-overdue", "*/15 * * * *", (2, 5), 15),
        "hearing-reminders": ("send-hearing-reminders", "0 8 * * *", (5, 15), 30),
        "analytics-snapshot": ("analytics-snapshot", "59 23 * * *", (10, 30), 60),
        "deadline-alerts": ("check-upcoming-deadlines", "0 9 * * *", (3, 8), 20),
        "health-check": ("automation-health-check", "0 7 * * *", (2, 5), 10),
        "deliver": ("deliver-notifications", "* * * * *", (1, 10), 60),
        "limitation-watch": ("limitation-watch", "30 7 * * *", (2, 10), 30),
        "prune": ("prune-history", "0 3 * * 0", (5, 60), 300),
    }
    assert {
        s.cli_name: (s.name, s.schedule, s.expected_seconds, s.max_seconds) for s in JOBS
    } == expected
    assert find("check-sla-and-overdue") is find("sla-check")
    with pytest.raises(UsageError):
        find("sla")


def test_schedule_times_in_kolkata() -> None:
    spec = find("hearing-reminders")
    now = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)  # 08:30 IST
    prev, nxt = schedule_times(spec, now, IST)
    assert prev == datetime(2026, 1, 15, 8, 0, tzinfo=IST)
    assert nxt == datetime(2026, 1, 16, 8, 0, tzinfo=IST)
    at_fire = datetime(2026, 1, 15, 8, 0, tzinfo=IST)
    assert schedule_times(spec, at_fire, IST)[0] == at_fire


def test_sum_results_adds_numbers_and_concatenates_lists() -> None:
    merged = sum_results([{"a": 1, "l": [1], "level": "OK"}, {"a": 2, "l": [2], "level": "OK"}])
    assert merged == {"a": 3, "l": [1, 2], "level": "OK"}
    assert sum_results([]) == {}


def test_gstin_check_character() -> None:
    assert gstin_check_char("27AAPFU0939F1Z") == "V"  # a published, valid GSTIN
    import random

    value = gstin(random.Random(1))
    assert len(value) == 15 and value[13] == "Z"
    assert gstin_check_char(value[:14]) == value[14]


@pytest.mark.parametrize(
    ("cron", "calendar"),
    [
        ("*/15 * * * *", "*-*-* *:00/15:00 Asia/Kolkata"),
        ("0 8 * * *", "*-*-* 08:00:00 Asia/Kolkata"),
        ("59 23 * * *", "*-*-* 23:59:00 Asia/Kolkata"),
        ("* * * * *", "*-*-* *:*:00 Asia/Kolkata"),
        ("30 7 * * *", "*-*-* 07:30:00 Asia/Kolkata"),
        ("0 3 * * 0", "Sun *-*-* 03:00:00 Asia/Kolkata"),
        ("0 9 1 * 1-5", "Mon..Fri *-*-01 09:00:00 Asia/Kolkata"),
        ("0,30 9,17 * * *", "*-*-* 09,17:00,30:00 Asia/Kolkata"),
    ],
)
def test_cron_to_systemd_calendar(cron: str, calendar: str) -> None:
    from gstjobs.schedule import on_calendar

    assert on_calendar(cron, "Asia/Kolkata") == calendar


@pytest.mark.parametrize("cron", ["0 8 * *", "0 8-10 * * *", "0 8 * JAN *", "0 8 L * *"])
def test_cron_without_a_systemd_equivalent_is_refused(cron: str) -> None:
    from gstjobs.errors import UsageError
    from gstjobs.schedule import on_calendar

    with pytest.raises(UsageError):
        on_calendar(cron, "Asia/Kolkata")


def test_a_well_formed_moment_that_does_not_exist_is_named_as_such() -> None:
    kolkata = ZoneInfo("Asia/Kolkata")
    with pytest.raises(UsageError, match="names no such moment: day is out of range"):
        parse_moment("2026-11-31", kolkata)
    with pytest.raises(UsageError, match="is not an ISO 8601 timestamp"):
        parse_moment("yesterday", kolkata)
