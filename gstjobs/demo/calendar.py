"""Working days, office hours and the statutory dates the demo's matters must respect.

Pure functions of dates: no clock, no database. Working days are Monday to Friday,
less the national holidays of the vocabulary and the ``holidays`` rows the loader
passes in (national, or of the client's state).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from gstjobs.demo.vocabulary import NATIONAL_HOLIDAYS, TIMEZONE
from gstjobs.errors import UsageError
from gstjobs.limitation.dates import add_months

IST = ZoneInfo(TIMEZONE)
OPENS, CLOSES = 10, 18  # office hours, IST: tasks fall due and hearings sit within them
_DAY = timedelta(days=1)

# GSTR-9 due dates where they differ from 31 December after the FY (migration 009 seeds
# the same into annual_return_due_dates; docs/statutory-dates.md gives the sources).
_GSTR9_DUE = {
    2017: date(2020, 2, 7),
    2018: date(2020, 12, 31),
    2019: date(2021, 3, 31),
    2020: date(2022, 2, 28),
}
# Orders-in-appeal communicated before this day may go to GSTAT until the notified date
# (s.112(1) as amended; S.O. 4220(E) dt 17-09-2025), mirrored from notified_dates.
GSTAT_NOTIFIED_BEFORE = date(2026, 4, 1)
GSTAT_NOTIFIED_DATE = date(2026, 6, 30)


@dataclass(frozen=True)
class Calendar:
    """Holidays: ``national`` everywhere, ``regional`` as (state code, day) pairs."""

    national: frozenset[date] = frozenset()
    regional: frozenset[tuple[str, date]] = field(default_factory=frozenset)

    def is_working(self, day: date, state: str) -> bool:
        return day.weekday() < 5 and day not in self.national and (state, day) not in self.regional

    def on_or_after(self, day: date, state: str) -> date:
        while not self.is_working(day, state):
            day += _DAY
        return day

    def on_or_before(self, day: date, state: str) -> date:
        while not self.is_working(day, state):
            day -= _DAY
        return day

    def before(self, day: date, state: str) -> date:
        """The last working day strictly before ``day``."""
        return self.on_or_before(day - _DAY, state)

    def spread(self, first: date, last: date, count: int, state: str) -> list[date]:
        """``count`` working days after ``first``, strictly increasing, the last on or
        before ``last`` when there is room (a chain squeezed by a short window runs on)."""
        days: list[date] = []
        span = max((last - first).days, count)
        previous = first
        for i in range(count):
            target = first + timedelta(days=span * (i + 1) // count)
            day = self.on_or_before(target, state)
            if day <= previous:
                day = self.on_or_after(previous + _DAY, state)
            days.append(day)
            previous = day
        return days


def national_holidays(first_year: int, last_year: int) -> frozenset[date]:
    return frozenset(
        date(y, m, d)
        for y in range(max(first_year, 1), min(last_year, 9999) + 1)
        for m, d, _ in NATIONAL_HOLIDAYS
    )


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """That day at that time, IST."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=IST)


def local_day(moment: datetime) -> date:
    return moment.astimezone(IST).date()


def fy_label(year: int) -> str:
    """2023 -> '2023-24' (the financial year April 2023 to March 2024)."""
    return f"{year}-{(year + 1) % 100:02d}"


def fy_of(day: date) -> int:
    return day.year if day.month >= 4 else day.year - 1


@cache
def gstr9_due(year: int) -> date:
    """Due date of the annual return for the FY starting in ``year``."""
    return _GSTR9_DUE.get(year) or date(year + 1, 12, 31)  # Rule 80(1): 31 December after the FY


@cache
def scn_last_date(year: int, section: str) -> date:
    """Last date to issue an SCN for the FY: s.73(2) three months, s.74(2) six months
    before the order's last date (3 and 5 years from the annual return's due date)."""
    due = gstr9_due(year)
    if section == "73":
        return add_months(add_months(due, 36), -3)
    return add_months(add_months(due, 60), -6)


LAST_FY_S73_S74 = 2023
"""Sections 73 and 74 govern demands up to FY 2023-24; from FY 2024-25 they fall under
s.74A (Finance (No. 2) Act 2024), which the demo does not generate yet."""


def fallback_fy(issue: date) -> int:
    """The FY a s.73/74 matter takes when no FY is in time on ``issue``: the latest such."""
    return min(fy_of(issue) - 1, LAST_FY_S73_S74)


@cache
def scn_fy_choices(issue: date, section: str, margin_days: int) -> tuple[int, ...]:
    """FYs (from 2020-21, the first with GSTR-2B) whose annual return was due before
    ``issue`` and for which an SCN under ``section`` issued then is in time with
    ``margin_days`` to spare."""
    return tuple(
        y
        for y in range(2020, min(fy_of(issue), LAST_FY_S73_S74 + 1))
        if gstr9_due(y) <= issue
        and scn_last_date(y, section) >= issue + timedelta(days=margin_days)
    )


@cache
def barred_fy(issue: date, section: str, margin_days: int) -> int | None:
    """The latest FY for which an SCN under ``section`` issued on ``issue`` is out of
    time by more than ``margin_days`` (a limitation defence), if any."""
    late = [
        y
        for y in range(2020, min(fy_of(issue), LAST_FY_S73_S74 + 1))
        if scn_last_date(y, section) < issue - timedelta(days=margin_days)
    ]
    return max(late) if late else None


LOOKBACK = timedelta(days=1120)
"""How far before its moment the demo draws a matter's oldest notice: a GSTAT appeal's
chain (order-in-appeal up to 420 days back, then 300 + 80 + 300 to its SCN, each moved to
a working day)."""
EARLIEST_ANCHOR = date(2024, 7, 1)
"""The earliest moment the demo's law supports: its oldest notice is then issued in
FY 2021-22 or later, so every FY it names is FY 2020-21 (GSTR-2B) or later."""
LATEST_ANCHOR = scn_last_date(LAST_FY_S73_S74, "73")
"""The latest: the last day a s.73 SCN for FY 2023-24 may issue (30 Sep 2027). Later,
every new s.73 notice would be out of time, and s.74A is not generated."""


def check_anchor(moment: datetime) -> datetime:
    """``moment``, or UsageError when the demo's law does not cover it."""
    if not EARLIEST_ANCHOR <= local_day(moment) <= LATEST_ANCHOR:
        raise UsageError(
            f"--as-of {local_day(moment):%Y-%m-%d} is outside the demo's law "
            f"({EARLIEST_ANCHOR:%Y-%m-%d} to {LATEST_ANCHOR:%Y-%m-%d}: FYs from 2020-21, "
            "s.73/74 notices up to FY 2023-24); give a moment in that range."
        )
    return moment
