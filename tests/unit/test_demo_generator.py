"""The demo generator's pure functions: identities, the calendar, statutory dates, rows."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from gstjobs.demo.calendar import (
    EARLIEST_ANCHOR,
    IST,
    LATEST_ANCHOR,
    LOOKBACK,
    Calendar,
    barred_fy,
    gstr9_due,
    national_holidays,
    scn_fy_choices,
    scn_last_date,
)
from gstjobs.demo.generator import COLUMNS, client_name, practice
from gstjobs.demo.identity import gstin_check_char, gstin_for, pan
from gstjobs.demo.vocabulary import ENTITY_TYPES, FORUMS, GSTR_2B_FROM_FY, STATES

CAL = Calendar(national_holidays(2000, 2200), frozenset({("27", date(2026, 12, 2))}))
TENANT = UUID(int=1)


def _column(rows: list[tuple[object, ...]], table: str, name: str) -> list[object]:
    i = COLUMNS[table].index(name)
    return [r[i] for r in rows]


def test_a_published_gstin_validates_and_ours_carry_the_pan_status() -> None:
    assert gstin_check_char("27AAPFU0939F1Z") == "V"  # a published, valid GSTIN
    rng = random.Random(3)
    for entity in ENTITY_TYPES:
        name, initial = client_name(rng, entity)
        number = pan(rng, entity.pan_letter, initial)
        value = gstin_for("33", number, 2)
        assert value[5] == entity.pan_letter and value[6] == initial
        # the surname's initial for a proprietor, the name's for everyone else (an HUF too)
        assert initial == (name.rsplit(" ", 1)[1][0] if entity.pan_letter == "P" else name[0])
        assert value[:2] == "33" and value[12:14] == "2Z"
        assert gstin_check_char(value[:14]) == value[14]


def test_scn_last_dates_match_the_statutory_table() -> None:
    # docs/statutory-dates.md §5.2 (s.73(2)/(10), s.74(2)/(10)).
    assert scn_last_date(2022, "73") == date(2026, 9, 30)
    assert scn_last_date(2023, "73") == date(2027, 9, 30)
    assert scn_last_date(2021, "74") == date(2027, 6, 30)
    assert scn_last_date(2020, "74") == date(2026, 8, 28)
    assert gstr9_due(2024) == date(2025, 12, 31) and gstr9_due(2019) == date(2021, 3, 31)


@given(st.dates(date(2023, 1, 1), date(2199, 1, 1)), st.sampled_from(["73", "74"]))
def test_chosen_fys_are_in_time_and_barred_ones_are_not(issue: date, section: str) -> None:
    for fy in scn_fy_choices(issue, section, 30):
        assert fy >= 2020 and gstr9_due(fy) <= issue
        assert scn_last_date(fy, section) >= issue + timedelta(days=30)
    barred = barred_fy(issue, section, 10)
    if barred is not None:
        assert scn_last_date(barred, section) < issue - timedelta(days=10)


@given(
    st.dates(date(2000, 1, 1), date(2199, 1, 1)),
    st.integers(0, 120),
    st.integers(1, 6),
    st.sampled_from(["27", "07"]),
)
def test_spread_gives_increasing_working_days(
    first: date, span: int, count: int, state: str
) -> None:
    days = CAL.spread(first, first + timedelta(days=span), count, state)
    assert len(days) == count and days[0] > first
    assert all(a < b for a, b in itertools.pairwise(days))
    assert all(CAL.is_working(d, state) for d in days)
    if span >= 2 * count + 4:  # room enough: the chain ends on time
        assert days[-1] <= first + timedelta(days=span)


def test_holidays_are_not_working_days() -> None:
    assert not CAL.is_working(date(2026, 1, 26), "07")  # Republic Day, a Monday
    assert not CAL.is_working(date(2026, 12, 2), "27") and CAL.is_working(date(2026, 12, 2), "07")
    assert CAL.before(date(2026, 12, 28), "07") == date(2026, 12, 24)  # over Christmas


def test_every_state_has_one_forum_of_each_level() -> None:
    for state in STATES:
        levels = sorted(f.forum for f in FORUMS if f.state_code == state.code)
        assert levels == ["adjudicating_authority", "appellate_authority", "gstat", "high_court"]


def test_the_same_seed_and_moment_give_the_same_rows() -> None:
    now = datetime(2026, 12, 1, 7, 30, tzinfo=IST)
    one = practice(random.Random(5), now, 0, TENANT, 80, CAL)
    two = practice(random.Random(5), now, 0, TENANT, 80, CAL)
    other = practice(random.Random(6), now, 0, TENANT, 80, CAL)
    assert one == two and one != other


@settings(max_examples=30, deadline=None)
@given(
    st.integers(0, 2**32),
    st.datetimes(
        datetime.combine(EARLIEST_ANCHOR, time(0, 0)),
        datetime.combine(LATEST_ANCHOR, time(18, 0)),
        timezones=st.just(UTC),
    ),
    st.integers(1, 120),
)
def test_any_moment_gives_consistent_rows(seed: int, now: datetime, tasks: int) -> None:
    rows = practice(random.Random(seed), now, 1, TENANT, tasks, CAL)
    for fys in _column(rows["proceedings"], "proceedings", "financial_years"):
        assert all("2020-21" <= fy <= "2023-24" for fy in fys or ())  # type: ignore[attr-defined]
    assert len(rows["tasks"]) == tasks and rows["cases"]
    assert sum(t[COLUMNS["tasks"].index("case_id")] is not None for t in rows["tasks"]) >= len(
        rows["cases"]
    )  # every matter has at least its first action
    dues = _column(rows["tasks"], "tasks", "due_date")
    for due in dues:
        if due is None:  # a matter's first action: judged by the SLA, not a due date
            continue
        assert isinstance(due, datetime)
        local = due.astimezone(IST)
        assert local.weekday() < 5 and 10 <= local.hour < 18
    for made in _column(rows["tasks"], "tasks", "created_at"):
        assert isinstance(made, datetime) and made <= now
    for case in rows["cases"]:
        opened, closed = case[COLUMNS["cases"].index("created_at")], case[-1]
        assert opened <= now and (closed is None or opened <= closed <= now)
    for when in _column(rows["hearings"], "hearings", "hearing_date"):
        assert isinstance(when, datetime) and when.astimezone(IST).weekday() < 5
    for issued in _column(rows["proceedings"], "proceedings", "issue_date"):
        assert isinstance(issued, date) and issued <= now.astimezone(IST).date()


def test_the_supported_moments_keep_every_notice_in_the_demos_law() -> None:
    """At the earliest moment the oldest notice (at most LOOKBACK back) is issued in
    FY 2021-22, so even a fallback FY is one with GSTR-2B; at the latest a s.73 SCN for
    FY 2023-24 may still issue."""
    assert date(GSTR_2B_FROM_FY + 1, 4, 1) + LOOKBACK <= EARLIEST_ANCHOR
    assert scn_last_date(2023, "73") == LATEST_ANCHOR
    now = datetime.combine(EARLIEST_ANCHOR, time(10, 0), IST)
    oldest = min(
        issued
        for seed in range(40)
        for issued in _column(
            practice(random.Random(seed), now, 0, TENANT, 40, CAL)["proceedings"],
            "proceedings",
            "issue_date",
        )
    )
    assert isinstance(oldest, date) and now.date() - LOOKBACK <= oldest
