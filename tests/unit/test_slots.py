"""Schedule arithmetic of the slot ledger: month ends, DST, the Kolkata offset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gstjobs import slots
from gstjobs.jobs import find

IST = ZoneInfo("Asia/Kolkata")
NEW_YORK = ZoneInfo("America/New_York")


def test_the_kolkata_offset_is_half_an_hour_off_utc_quarters() -> None:
    sla = find("sla-check")
    moment = datetime(2026, 11, 29, 10, 7, tzinfo=IST)
    assert slots.slot_at(sla, IST, moment) == datetime(2026, 11, 29, 10, 0, tzinfo=IST)
    assert slots.slot_at(sla, IST, moment).astimezone(UTC).minute == 30
    # exactly on a slot, that slot
    assert slots.slot_at(sla, IST, datetime(2026, 11, 29, 10, 15, tzinfo=IST)).minute == 15


def test_the_nightly_slot_across_a_month_and_a_year_end() -> None:
    nightly = find("analytics-snapshot")
    assert slots.slot_at(nightly, IST, datetime(2026, 12, 1, 5, 0, tzinfo=IST)) == datetime(
        2026, 11, 30, 23, 59, tzinfo=IST
    )
    got = slots.between(
        nightly,
        IST,
        datetime(2026, 12, 30, 12, 0, tzinfo=IST),
        datetime(2027, 1, 2, 12, 0, tzinfo=IST),
    )
    assert [s.date().isoformat() for s in got] == ["2026-12-30", "2026-12-31", "2027-01-01"]


@pytest.mark.parametrize(
    ("day", "hour"),
    [(datetime(2026, 3, 8), 2), (datetime(2026, 11, 1), 1)],  # spring forward, fall back
)
def test_one_slot_a_day_across_dst_changes(day: datetime, hour: int) -> None:
    daily = find("hearing-reminders")
    from dataclasses import replace

    spec = replace(daily, schedule=f"30 {hour} * * *")
    start = day.replace(tzinfo=NEW_YORK) - timedelta(days=2)
    got = slots.between(spec, NEW_YORK, start, start + timedelta(days=4))
    assert len({s.astimezone(NEW_YORK).date() for s in got}) == len(got) == 4


def test_grace_is_a_third_of_the_interval_at_most_ten_minutes() -> None:
    now = datetime(2026, 11, 29, 10, 7, tzinfo=IST)
    assert slots.grace(find("deliver"), IST, now) == timedelta(seconds=20)
    assert slots.grace(find("sla-check"), IST, now) == timedelta(minutes=5)
    assert slots.grace(find("hearing-reminders"), IST, now) == timedelta(minutes=10)


def test_between_keeps_the_latest_when_it_must_cut() -> None:
    deliver = find("deliver")
    end = datetime(2026, 11, 29, 10, 0, tzinfo=IST)
    got = slots.between(deliver, IST, end - timedelta(days=3), end, limit=5)
    assert got[-1] == end and len(got) == 5


def test_the_nightly_snapshot_begun_after_midnight_is_still_the_day_before() -> None:
    """CI found it at 00:05 IST: run-due started the 23:59 slot within its grace but on
    the next day, and the snapshot took the new day's date (the night was lost)."""
    nightly, sla = find("analytics-snapshot"), find("sla-check")
    slot = datetime(2026, 11, 29, 23, 59, tzinfo=IST)
    # on time, the same day: as of the moment it runs
    assert slots.works_as_of(nightly, IST, slot, slot + timedelta(seconds=40)) is None
    # within the grace but past midnight, or late: as of its slot
    for late in (timedelta(minutes=5), timedelta(minutes=11), timedelta(days=2)):
        assert slots.works_as_of(nightly, IST, slot, slot + late) == slot
    # a job not kept per day always works as of the moment it runs
    assert slots.works_as_of(sla, IST, slot, slot + timedelta(days=1)) is None
