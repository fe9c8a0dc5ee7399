"""The offset tests/at_hour.py moves every clock by (``make hours``)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from tests.at_hour import IST, offset_to


def test_the_offset_reaches_the_next_such_hour_in_kolkata() -> None:
    now = datetime(2026, 11, 29, 18, 41, tzinfo=ZoneInfo("UTC"))  # 00:11 IST on the 30th
    assert offset_to("00:15", now) == 4 * 60
    assert offset_to("23:56", now) == (23 * 60 + 45) * 60
    moved = datetime.fromtimestamp(now.timestamp() + offset_to("07:56", now), IST)
    assert (moved.day, moved.hour, moved.minute) == (30, 7, 56)
