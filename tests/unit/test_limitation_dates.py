"""The date arithmetic of limitation: examples from the statute, and properties (Hypothesis)."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gstjobs.limitation import dates
from gstjobs.limitation.dates import Purpose

DAYS = st.dates(min_value=date(2017, 7, 1), max_value=date(2060, 12, 31))
MONTHS = st.integers(min_value=-120, max_value=120)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 11, 30), 3, date(2027, 2, 28)),  # the day does not exist: month end
        (date(2027, 11, 30), 3, date(2028, 2, 29)),  # leap year
        (date(2025, 12, 31), 42, date(2029, 6, 30)),  # s.74A(2) for FY 2024-25
        (date(2026, 8, 31), 3, date(2026, 11, 30)),
        (date(2026, 1, 15), 3, date(2026, 4, 15)),  # same day number
        (date(2023, 12, 31), 36, date(2026, 12, 31)),  # s.73(10) FY 2022-23
        (date(2026, 12, 31), -3, date(2026, 9, 30)),  # s.73(2): 3 months before
        (date(2027, 2, 28), -6, date(2026, 8, 28)),  # s.74(2) FY 2020-21
        (date(2022, 2, 28), 60, date(2027, 2, 28)),  # s.74(10) FY 2020-21
        (date(2026, 11, 4), 3, date(2027, 2, 4)),  # APL-01 golden example
    ],
)
def test_add_months_examples(start: date, months: int, expected: date) -> None:
    assert dates.add_months(start, months) == expected


@given(DAYS, MONTHS)
def test_add_months_keeps_the_day_or_takes_the_month_end(day: date, months: int) -> None:
    result = dates.add_months(day, months)
    assert (result.year * 12 + result.month) - (day.year * 12 + day.month) == months
    last = calendar.monthrange(result.year, result.month)[1]
    assert result.day == min(day.day, last)


@given(DAYS, MONTHS)
def test_add_months_round_trips_when_the_day_exists_everywhere(day: date, months: int) -> None:
    if day.day <= 28:
        assert dates.add_months(dates.add_months(day, months), -months) == day
    else:
        assert dates.add_months(dates.add_months(day, months), -months) <= day


@given(DAYS, DAYS, MONTHS)
def test_add_months_is_monotonic(a: date, b: date, months: int) -> None:
    if a <= b:
        assert dates.add_months(a, months) <= dates.add_months(b, months)


@given(DAYS, st.integers(min_value=0, max_value=120), st.integers(min_value=0, max_value=120))
def test_adding_in_two_steps_never_passes_adding_at_once(day: date, m: int, n: int) -> None:
    # Clamping can only lose days: 31-01 +1 +1 = 28-03, while 31-01 +2 = 31-03.
    assert dates.add_months(dates.add_months(day, m), n) <= dates.add_months(day, m + n)


@given(DAYS, st.integers(min_value=0, max_value=400))
def test_days_are_counted_excluding_the_trigger_day(day: date, days: int) -> None:
    assert dates.add_days(day, days) - day == timedelta(days=days)
    assert dates.days_left(dates.add_days(day, days), day) == days


def test_thirty_days_from_20_november_is_20_december() -> None:
    assert dates.add_days(date(2026, 11, 20), 30) == date(2026, 12, 20)


def test_due_instant_is_the_last_second_in_the_practice_zone() -> None:
    moment = dates.due_instant(date(2027, 2, 4), "Asia/Kolkata")
    assert moment.isoformat() == "2027-02-04T23:59:59+05:30"


def _brute_target(due: date) -> date:
    day, counted = due, 0
    while counted < 2:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            counted += 1
    return day


@given(DAYS)
def test_target_date_is_two_working_days_before(due: date) -> None:
    assert dates.target_date(due) == _brute_target(due)


def test_a_holiday_never_moves_the_date_it_only_warns() -> None:
    sunday = date(2026, 12, 20)
    assert dates.file_by(sunday) == date(2026, 12, 18)  # Sat 19 is not a working day either
    assert dates.file_by(date(2026, 12, 18)) is None
    diwali = date(2026, 11, 9)  # a Monday made a holiday
    assert dates.file_by(diwali, {diwali}) == date(2026, 11, 6)


@given(DAYS)
def test_previous_working_day_is_a_weekday_before(day: date) -> None:
    before = dates.previous_working_day(day)
    assert before < day and before.weekday() < 5
    assert all(
        d.weekday() >= 5
        for d in (before + timedelta(days=i) for i in range(1, (day - before).days))
    )


def test_ambiguity_takes_the_earliest_for_own_deadlines_and_latest_for_a_defence() -> None:
    candidates = [date(2026, 9, 30), date(2026, 10, 10)]
    assert dates.resolve(candidates, Purpose.OWN_DEADLINE) == (date(2026, 9, 30), True)
    assert dates.resolve(candidates, Purpose.DEFENCE) == (date(2026, 10, 10), True)
    assert dates.resolve([date(2026, 9, 30)] * 2, Purpose.DEFENCE) == (date(2026, 9, 30), False)
    with pytest.raises(ValueError, match="no candidate"):
        dates.resolve([], Purpose.DEFENCE)


def test_missing_communication_date_falls_back_to_issue_date_marked_assumed() -> None:
    assert dates.anchor(date(2026, 11, 3), None) == (date(2026, 11, 3), True)
    assert dates.anchor(date(2026, 11, 3), date(2026, 11, 4)) == (date(2026, 11, 4), False)


def test_financial_years() -> None:
    assert dates.fy_bounds("2022-23") == (date(2022, 4, 1), date(2023, 3, 31))
    assert dates.fy_bounds("1999-00") == (date(1999, 4, 1), date(2000, 3, 31))
    for bad in ("2022", "2022-24", "22-23", "abcd-ef"):
        with pytest.raises(ValueError, match="financial year"):
            dates.fy_bounds(bad)


def test_dates_are_shown_with_their_weekday() -> None:
    assert dates.show(date(2027, 2, 4)) == "04-02-2027 (Thu)"
