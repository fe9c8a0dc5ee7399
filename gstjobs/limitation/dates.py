"""Date arithmetic of limitation, done once.

The rules a practitioner expects (docs/statutory-dates.md, "How dates are counted"):

* A month is a calendar month (General Clauses Act s.3(35)); the day of the trigger is
  excluded ("from", GCA s.9). ``add_months`` keeps the day number and, where that day
  does not exist, takes the last day of the month: 30-11-2026 + 3 = 28-02-2027,
  31-12-2025 + 42 = 30-06-2029. PostgreSQL's ``date + interval 'n months'`` does the
  same, and the job computes in SQL (``gstjobs_add_months``); a test keeps the two equal.
* Days are counted as days: 30 days from 20-11 is 20-12.
* A due date is a date; its instant is 23:59:59 in the practice's time zone.
* Holidays never move a date. A date on a Saturday, Sunday or holiday only earns the
  warning "file by the previous working day".
* Where inputs are ambiguous (an unknown state or district), the practice's own
  deadlines take the earliest candidate and a defence the latest, so the watch never
  gives the practice more time, nor claims a time-bar, than the statute does.
"""

from __future__ import annotations

import calendar
from collections.abc import Collection, Iterable
from datetime import date, datetime, time, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

DUE_TIME = time(23, 59, 59)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months, clamped to the month's last day."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def add_days(day: date, days: int) -> date:
    """``days`` days after ``day`` (the trigger day itself is not counted)."""
    return day + timedelta(days=days)


def due_instant(day: date, timezone: str) -> datetime:
    """The last second of ``day`` in ``timezone``: when a due date actually passes."""
    return datetime.combine(day, DUE_TIME, tzinfo=ZoneInfo(timezone))


def days_left(due: date, today: date) -> int:
    """Whole days from ``today`` to ``due``: 0 on the due date, negative once passed."""
    return (due - today).days


def is_working_day(day: date, holidays: Collection[date] = ()) -> bool:
    return day.weekday() < 5 and day not in holidays


def previous_working_day(day: date, holidays: Collection[date] = ()) -> date:
    """The last working day strictly before ``day``."""
    candidate = day - timedelta(days=1)
    while not is_working_day(candidate, holidays):
        candidate -= timedelta(days=1)
    return candidate


def file_by(due: date, holidays: Collection[date] = ()) -> date | None:
    """The previous working day when ``due`` is a non-working day, else None.

    The due date itself does not move (the date stays the statute's); this is the
    safe day to file when the office or portal may be closed on the due date.
    """
    return None if is_working_day(due, holidays) else previous_working_day(due, holidays)


def target_date(due: date) -> date:
    """Two working days (Saturdays and Sundays skipped) before ``due``: the "ready by" day.

    The same closed form as the job's SQL: Mon/Tue -4, Sun -3, otherwise -2.
    """
    return due - timedelta(days={0: 4, 1: 4, 6: 3}.get(due.weekday(), 2))


class Purpose(Enum):
    """Whose date it is, which decides how an ambiguity is resolved."""

    OWN_DEADLINE = "own"
    """The practice must act by it: take the earliest candidate."""
    DEFENCE = "defence"
    """A time-bar the practice may plead: take the latest (never claim one falsely)."""


def resolve(candidates: Iterable[date], purpose: Purpose) -> tuple[date, bool]:
    """The date to use among ``candidates`` and whether there was a real ambiguity."""
    unique = sorted(set(candidates))
    if not unique:
        raise ValueError("no candidate date")
    chosen = unique[0] if purpose is Purpose.OWN_DEADLINE else unique[-1]
    return chosen, len(unique) > 1


def anchor(issue: date, communicated: date | None) -> tuple[date, bool]:
    """The communication date, or the issue date marked assumed when it is unknown.

    The issue date is the earliest a document can have been communicated, so the
    fallback can only bring a deadline forward, never push it back.
    """
    return (communicated, False) if communicated is not None else (issue, True)


def fy_bounds(fy: str) -> tuple[date, date]:
    """'2022-23' -> (01-04-2022, 31-03-2023); ValueError naming the expected form."""
    parts = fy.split("-")
    if len(parts) != 2 or not (parts[0].isdigit() and parts[1].isdigit()) or len(parts[0]) != 4:
        raise ValueError(f"financial year {fy!r} must look like 2022-23")
    start = int(parts[0])
    if int(parts[1]) != (start + 1) % 100:
        raise ValueError(f"financial year {fy!r} must span two consecutive years, e.g. 2022-23")
    return date(start, 4, 1), date(start + 1, 3, 31)


def show(day: date) -> str:
    """'04-02-2027 (Thu)': how a practitioner writes a date, with its weekday."""
    return f"{day:%d-%m-%Y} ({WEEKDAYS[day.weekday()]})"
