"""Parsing and printing moments. Time is an argument: nothing here reads the clock
except where a caller passes ``now``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from gstjobs.errors import UsageError

_RELATIVE = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_moment(value: str, tz: ZoneInfo, *, option: str = "--as-of") -> datetime:
    """ISO 8601 date or timestamp; one without an offset is read in ``tz``."""
    raw = value.strip()
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00") if raw.endswith("Z") else raw)
    except ValueError as exc:
        # The form is right but the day is not (2026-11-31): say that, not "not ISO".
        if "out of range" in str(exc) or "must be in" in str(exc):
            raise UsageError(f"{option} {value!r} names no such moment: {exc}.") from None
        raise UsageError(
            f"{option} {value!r} is not an ISO 8601 timestamp; use e.g. 2026-01-15T08:00 "
            "or 2026-01-15T02:30:00Z."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise UsageError(f"{option} {value!r} is out of range; use a date after year 1.") from None


EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
"""A moment the jobs can run as falls in [EARLIEST, LATEST): they add days and months to
it, and a year-9999 moment would overflow after the work was committed."""


def check_in_range(moment: datetime, option: str = "--as-of") -> datetime:
    """``moment``, or UsageError when it is outside what the jobs can handle."""
    if not EARLIEST <= moment < LATEST:
        raise UsageError(
            f"{option} {moment:%Y-%m-%d} is outside what gstjobs handles "
            f"({EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}); give a moment in that range."
        )
    return moment


def parse_since(value: str, tz: ZoneInfo, now: datetime) -> datetime:
    """``--since``: a relative span such as 30m, 24h, 7d, 2w, or an ISO 8601 moment."""
    match = _RELATIVE.match(value.strip().lower())
    if match:
        try:
            return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        except OverflowError:
            raise UsageError(f"--since {value!r} reaches too far back.") from None
    try:
        return parse_moment(value, tz, option="--since")
    except UsageError:
        raise UsageError(
            f"--since {value!r} is neither a span nor a moment; use e.g. 30m, 24h, 7d, 2w "
            "or 2026-01-15T08:00."
        ) from None


def iso_z(moment: datetime) -> str:
    """UTC with a ``Z``, to the second: the seed's ``executedAt``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def seconds_text(seconds: float) -> str:
    """The seed's ``executionTime``: ``2.3s``."""
    return f"{seconds:.1f}s"
