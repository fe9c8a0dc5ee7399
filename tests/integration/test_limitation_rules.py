"""Every rule on both sides of its date: the last day is still in time, the next is not."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.support.limitation import event, matter, one, proceeding, register

# rule, proceeding kind, its columns, fy, the last day, status on it, status the day after
DATED: list[tuple[str, str, dict[str, Any], str, date, str, str]] = [
    (
        "ASMT11_REPLY",
        "ASMT_10",
        {"communicated_date": date(2026, 11, 20), "reply_by_date": date(2026, 12, 31)},
        "*",
        date(2026, 12, 20),
        "open",
        "lapsed",
    ),
    (
        "DRC01A_REPLY",
        "DRC_01A",
        {"communicated_date": date(2026, 11, 2), "reply_by_date": date(2026, 12, 2)},
        "*",
        date(2026, 12, 2),
        "open",
        "lapsed",
    ),
    (
        "DRC06_REPLY",
        "SCN_S73",
        {"financial_years": ["2023-24"]},
        "*",
        date(2026, 11, 30),
        "open",
        "lapsed",
    ),
    (
        "SCN_PAY_WINDOW",
        "SCN_S73",
        {"financial_years": ["2023-24"]},
        "*",
        date(2026, 11, 30),
        "open",
        "lapsed",
    ),
    (
        "ORDER_DEADLINE",
        "SCN_S73",
        {"financial_years": ["2023-24"]},
        "2023-24",
        date(2027, 12, 31),
        "open",
        "lapsed",
    ),
    (
        "ORDER_PAY_REDUCED_PENALTY",
        "ORDER_S74",
        {"communicated_date": date(2026, 10, 31), "tax_cgst": 1000},
        "*",
        date(2026, 11, 30),
        "open",
        "lapsed",
    ),
    (
        "APL01_APPEAL",
        "ORDER_S73",
        {"communicated_date": date(2026, 10, 31), "tax_cgst": 1000},
        "*",
        date(2027, 1, 31),
        "open",
        "lapsed",
    ),
    (
        "APL01_PREDEPOSIT",
        "ORDER_S73",
        {"communicated_date": date(2026, 10, 31), "tax_cgst": 1000},
        "*",
        date(2027, 1, 31),
        "open",
        "lapsed",
    ),
    (
        "RECOVERY_S78",
        "ORDER_S73",
        {"communicated_date": date(2026, 10, 31), "tax_cgst": 1000},
        "*",
        date(2027, 1, 31),
        "open",
        "lapsed",
    ),
    (
        "RECTIFICATION_S161",
        "ORDER_S73",
        {"communicated_date": date(2026, 11, 1), "tax_cgst": 1000},
        "*",
        date(2027, 1, 31),
        "open",
        "lapsed",
    ),
    (
        "APL05_APPEAL",
        "ORDER_IN_APPEAL",
        {"communicated_date": date(2026, 6, 30), "tax_cgst": 1000},
        "*",
        date(2026, 9, 30),
        "open",
        "lapsed",
    ),
    (
        "APL05_PREDEPOSIT",
        "ORDER_IN_APPEAL",
        {"communicated_date": date(2026, 6, 30), "tax_cgst": 1000},
        "*",
        date(2026, 9, 30),
        "open",
        "lapsed",
    ),
    (
        "APL06_CROSS_OBJECTION",
        "APL_06_NOTICE",
        {"communicated_date": date(2026, 11, 1)},
        "*",
        date(2026, 12, 16),
        "open",
        "lapsed",
    ),
    (
        "HC_APPEAL_S117",
        "GSTAT_ORDER",
        {"communicated_date": date(2026, 6, 1)},
        "*",
        date(2026, 11, 28),
        "open",
        "lapsed",
    ),
    (
        "REMAND_ORDER_S75_3",
        "REMAND_DIRECTION",
        {"communicated_date": date(2025, 2, 28)},
        "*",
        date(2027, 2, 28),
        "open",
        "lapsed",
    ),
]


@pytest.mark.parametrize(
    ("rule", "kind", "columns", "fy", "last", "on_it", "after"), DATED, ids=[d[0] for d in DATED]
)
def test_rule_on_both_sides_of_its_date(
    engine: Engine,
    rule: str,
    kind: str,
    columns: dict[str, Any],
    fy: str,
    last: date,
    on_it: str,
    after: str,
) -> None:
    with engine.begin() as conn:
        m = matter(conn)
        proceeding(conn, m, kind, columns.pop("issue_date", date(2026, 10, 31)), **columns)
    on_the_day = one(register(engine, m, last), kind, rule, fy)
    assert on_the_day["due_date"] == last
    assert on_the_day["status"] == on_it
    assert one(register(engine, m, last + timedelta(days=1)), kind, rule, fy)["status"] == after


@pytest.mark.parametrize(
    ("kind", "fy", "last"),
    [
        ("SCN_S73", "2023-24", date(2027, 9, 30)),  # s.73(2): 3 months before 31-12-2027
        ("SCN_S74", "2023-24", date(2029, 6, 30)),  # s.74(2): 6 months before 31-12-2029
        ("SCN_S74A", "2024-25", date(2029, 6, 30)),  # s.74A(2): 42 months from 31-12-2025
        ("SCN_S73", "2018-19", date(2024, 1, 31)),  # override by N/N 56/2023 (contested)
        ("SCN_S74", "2020-21", date(2026, 8, 31)),  # 28-02-2027 - 6: month-end reading
    ],
)
def test_scn_limitation_defence_on_both_sides(
    engine: Engine, kind: str, fy: str, last: date
) -> None:
    with engine.begin() as conn:
        m = matter(conn)
        proceeding(conn, m, kind, last, financial_years=[fy], state_code="27")
    in_time = one(register(engine, m, last), kind, "SCN_LIMITATION_DEFENCE", fy)
    assert (in_time["due_date"], in_time["status"]) == (last, "not_applicable")
    with engine.begin() as conn:
        conn.execute(text("UPDATE proceedings SET issue_date = issue_date + 1"))
    late = one(register(engine, m, last + timedelta(days=1)), kind, "SCN_LIMITATION_DEFENCE", fy)
    assert late["status"] == "defence_found"
    if fy == "2018-19":
        assert late["confidence"] == "contested" and "56/2023" in late["source"]
    # Counting back from 30-04 or 28-02 (month ends) the later, month-end reading is used.
    assert late["ambiguous"] == (fy in ("2018-19", "2020-21"))


def test_condonation_window_on_both_sides(engine: Engine) -> None:
    with engine.begin() as conn:
        m = matter(conn)
        pid = proceeding(
            conn,
            m,
            "ORDER_S73",
            date(2026, 10, 30),
            communicated_date=date(2026, 10, 31),
            tax_cgst=1000,
        )
        event(conn, m, pid, "APPEAL_FILED", date(2027, 2, 28))
    assert (
        one(register(engine, m, date(2027, 3, 1)), "ORDER_S73", "APL01_APPEAL")["status"]
        == "met_late"
    )
    with engine.begin() as conn:
        conn.execute(text("UPDATE proceeding_events SET event_date = '2027-03-01'"))
    assert (
        one(register(engine, m, date(2027, 3, 2)), "ORDER_S73", "APL01_APPEAL")["status"]
        == "lapsed"
    )


@pytest.mark.parametrize(
    ("filed", "version", "cgst"),
    [(date(2024, 10, 31), 1, 250_000_000), (date(2024, 11, 1), 2, 200_000_000)],
)
def test_pre_deposit_cap_by_the_filing_date(
    engine: Engine, filed: date, version: int, cgst: int
) -> None:
    with engine.begin() as conn:
        m = matter(conn)
        pid = proceeding(
            conn,
            m,
            "ORDER_S74",
            date(2024, 10, 1),
            communicated_date=date(2024, 10, 1),
            tax_cgst=4_000_000_000,
        )
        event(conn, m, pid, "APPEAL_FILED", filed)
    row = one(register(engine, m, filed), "ORDER_S74", "APL01_PREDEPOSIT")
    assert row["rule_version"] == version and row["amounts"]["cgst"] == cgst


def test_officer_extension_moves_an_extendable_date(engine: Engine) -> None:
    with engine.begin() as conn:
        m = matter(conn)
        pid = proceeding(
            conn,
            m,
            "SCN_S73",
            date(2026, 10, 31),
            financial_years=["2023-24"],
            reply_by_date=date(2026, 11, 30),
        )
        event(
            conn, m, pid, "EXTENSION_GRANTED", date(2026, 11, 25), new_due_date=date(2026, 12, 15)
        )
    row = one(register(engine, m, date(2026, 12, 1)), "SCN_S73", "DRC06_REPLY")
    assert (row["due_date"], row["status"]) == (date(2026, 12, 15), "open")


def test_a_stay_adds_the_days_it_overlaps(engine: Engine) -> None:
    with engine.begin() as conn:
        m = matter(conn)
        pid = proceeding(
            conn,
            m,
            "ORDER_S73",
            date(2026, 10, 30),
            communicated_date=date(2026, 10, 31),
            tax_cgst=1000,
        )
        event(conn, m, pid, "STAY_GRANTED", date(2026, 11, 10))
        event(conn, m, pid, "STAY_VACATED", date(2026, 11, 19))
    row = one(register(engine, m, date(2026, 12, 1)), "ORDER_S73", "APL01_APPEAL")
    assert row["due_date"] == date(2027, 1, 31) + timedelta(days=10)
    assert any(n.startswith("excluded: 10 days") for n in row["notes"])


def test_uncertain_rules_are_off_by_default_and_a_practice_can_switch_one_on(
    engine: Engine,
) -> None:
    with engine.begin() as conn:
        m = matter(conn)
        proceeding(conn, m, "SCN_S74A", date(2028, 3, 15), financial_years=["2024-25"])
        off = conn.execute(
            text("SELECT rule_id, why_off FROM limitation_rules WHERE NOT enabled_by_default")
        ).all()
    assert {r.rule_id for r in off} >= {"SCN_PAY_WINDOW_74A", "ORDER_PAY_REDUCED_PENALTY_74A"}
    assert all(r.why_off for r in off)
    assert ("SCN_S74A/SCN_PAY_WINDOW_74A", "*") not in register(engine, m, date(2028, 3, 20))
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO limitation_rule_settings VALUES (:t, 'SCN_PAY_WINDOW_74A', true)"),
            {"t": m.tenant_id},
        )
    row = one(register(engine, m, date(2028, 3, 20)), "SCN_S74A", "SCN_PAY_WINDOW_74A")
    assert row["due_date"] == date(2028, 5, 14) and row["confidence"] == "uncertain"
