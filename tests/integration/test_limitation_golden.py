"""The acceptance examples of the statutory calendar (research §8.7), on a real PostgreSQL."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

from sqlalchemy import Engine, text

from gstjobs.limitation import dates
from tests.support.limitation import event, matter, one, proceeding, register


def test_asmt10_served_20_november_no_date_stated(engine: Engine) -> None:
    with engine.begin() as conn:
        m = matter(conn)
        proceeding(conn, m, "ASMT_10", date(2026, 11, 19), communicated_date=date(2026, 11, 20))
    row = one(register(engine, m, date(2026, 11, 29)), "ASMT_10", "ASMT11_REPLY")
    assert row["due_date"] == date(2026, 12, 20)
    assert row["falls_on_holiday"]  # a Sunday: "file by 18-12", the date itself stays
    with engine.connect() as conn:
        file_by = conn.execute(text("SELECT gstjobs_previous_working_day('2026-12-20', '33')"))
        assert file_by.scalar_one() == date(2026, 12, 18)


def test_scn_s73_fy_2022_23_in_tamil_nadu_district_unknown_is_a_defence(engine: Engine) -> None:
    with engine.begin() as conn:
        m = matter(conn)
        proceeding(
            conn, m, "SCN_S73", date(2026, 10, 21), financial_years=["2022-23"], state_code="33"
        )
    found = register(engine, m, date(2026, 11, 29))
    defence = one(found, "SCN_S73", "SCN_LIMITATION_DEFENCE", "2022-23")
    # Candidates 30-09-2026 (general) and 10-10-2026 (9 TN districts): the defence takes
    # the latest, and 21-10 is still after it.
    assert defence["due_date"] == date(2026, 10, 10)
    assert defence["ambiguous"] and defence["status"] == "defence_found"
    order = one(found, "SCN_S73", "ORDER_DEADLINE", "2022-23")
    assert order["due_date"] == date(2027, 1, 10) and order["status"] == "open"


def test_scn_s73_in_a_known_district_uses_the_general_date(engine: Engine) -> None:
    with engine.begin() as conn:
        m = matter(conn)
        proceeding(
            conn,
            m,
            "SCN_S73",
            date(2026, 10, 1),
            financial_years=["2022-23"],
            state_code="33",
            district="Madurai",
        )
        proceeding(
            conn,
            m,
            "SCN_S74",
            date(2026, 10, 1),
            financial_years=["2022-23"],
            state_code="33",
            district="Chennai",
        )
    found = register(engine, m, date(2026, 11, 29))
    general = one(found, "SCN_S73", "SCN_LIMITATION_DEFENCE", "2022-23")
    assert general["due_date"] == date(2026, 9, 30) and not general["ambiguous"]
    assert general["status"] == "defence_found"
    assert one(found, "SCN_S73", "ORDER_DEADLINE", "2022-23")["due_date"] == date(2026, 12, 31)
    chennai = one(found, "SCN_S74", "ORDER_DEADLINE", "2022-23")
    assert chennai["due_date"] == date(2029, 1, 10) and not chennai["ambiguous"]


def test_scn_s74_fy_2021_22(engine: Engine) -> None:
    with engine.begin() as conn:
        m = matter(conn)
        proceeding(conn, m, "SCN_S74", date(2026, 10, 16), financial_years=["2021-22"])
    found = register(engine, m, date(2026, 10, 20))
    defence = one(found, "SCN_S74", "SCN_LIMITATION_DEFENCE", "2021-22")
    assert defence["due_date"] == date(2027, 6, 30) and defence["status"] == "not_applicable"
    assert one(found, "SCN_S74", "ORDER_DEADLINE", "2021-22")["due_date"] == date(2027, 12, 31)
    assert one(found, "SCN_S74", "SCN_PAY_WINDOW")["due_date"] == date(2026, 11, 15)


def test_scn_s74a_fy_2024_25_and_the_recorded_extension(engine: Engine) -> None:
    with engine.begin() as conn:
        m = matter(conn)
        pid = proceeding(conn, m, "SCN_S74A", date(2028, 3, 15), financial_years=["2024-25"])
    found = register(engine, m, date(2028, 3, 20))
    defence = one(found, "SCN_S74A", "SCN_LIMITATION_DEFENCE", "2024-25")
    assert defence["due_date"] == date(2029, 6, 30) and defence["status"] == "not_applicable"
    assert one(found, "SCN_S74A", "ORDER_DEADLINE")["due_date"] == date(2029, 3, 15)
    with engine.begin() as conn:
        event(
            conn, m, pid, "ORDER_TIME_EXTENDED", date(2029, 3, 1), new_due_date=date(2029, 12, 31)
        )
    # An extension is capped at 6 months (s.74A(7)).
    assert one(register(engine, m, date(2028, 3, 20)), "SCN_S74A", "ORDER_DEADLINE")[
        "due_date"
    ] == date(2029, 9, 15)


def test_order_s73_communicated_4_november_2026(engine: Engine) -> None:
    with engine.begin() as conn:
        m = matter(conn)
        proceeding(
            conn,
            m,
            "ORDER_S73",
            date(2026, 11, 3),
            communicated_date=date(2026, 11, 4),
            tax_cgst=710000,
            tax_sgst=710000,
        )
    found = register(engine, m, date(2026, 11, 29))
    appeal = one(found, "ORDER_S73", "APL01_APPEAL")
    assert (appeal["due_date"], appeal["outer_date"]) == (date(2027, 2, 4), date(2027, 3, 4))
    deposit = one(found, "ORDER_S73", "APL01_PREDEPOSIT")
    assert deposit["due_date"] == date(2027, 2, 4)
    assert deposit["amounts"]["cgst"] == 71000 and deposit["amounts"]["sgst"] == 71000
    assert deposit["amount"] == Decimal(142000)
    assert one(found, "ORDER_S73", "RECOVERY_S78")["due_date"] == date(2027, 2, 4)
    assert one(found, "ORDER_S73", "RECTIFICATION_S161")["due_date"] == date(2027, 2, 3)


def test_order_communicated_30_november(engine: Engine) -> None:
    with engine.begin() as conn:
        m = matter(conn)
        proceeding(
            conn,
            m,
            "ORDER_S74",
            date(2026, 11, 30),
            communicated_date=date(2026, 11, 30),
            tax_igst=100000,
        )
    appeal = one(register(engine, m, date(2026, 12, 1)), "ORDER_S74", "APL01_APPEAL")
    assert (appeal["due_date"], appeal["outer_date"]) == (date(2027, 2, 28), date(2027, 3, 28))


def test_order_in_appeal_communicated_before_the_notified_cut_off(engine: Engine) -> None:
    with engine.begin() as conn:
        m = matter(conn)
        proceeding(
            conn,
            m,
            "ORDER_IN_APPEAL",
            date(2026, 3, 9),
            communicated_date=date(2026, 3, 10),
            tax_cgst=100000,
        )
    row = one(register(engine, m, date(2026, 4, 1)), "ORDER_IN_APPEAL", "APL05_APPEAL")
    assert row["due_date"] == date(2026, 6, 30)  # S.O. 4220(E); the 31-07-2026 report is off
    assert "S.O. 4220(E)" in row["source"]
    # Condonation: the earlier reading (from the statutory 3 months), flagged uncertain.
    assert row["outer_date"] == date(2026, 9, 10)
    assert any(n.startswith("uncertain") for n in row["notes"])


def test_order_in_appeal_after_the_cut_off(engine: Engine) -> None:
    with engine.begin() as conn:
        m = matter(conn)
        proceeding(
            conn,
            m,
            "ORDER_IN_APPEAL",
            date(2026, 5, 14),
            communicated_date=date(2026, 5, 15),
            tax_cgst=100000,
        )
    row = one(register(engine, m, date(2026, 6, 1)), "ORDER_IN_APPEAL", "APL05_APPEAL")
    assert (row["due_date"], row["outer_date"]) == (date(2026, 8, 15), date(2026, 11, 15))
    assert row["notes"] == []


def test_the_reported_gstat_extension_applies_only_when_switched_on(engine: Engine) -> None:
    with engine.begin() as conn:
        m = matter(conn)
        proceeding(
            conn,
            m,
            "ORDER_IN_APPEAL",
            date(2026, 4, 9),
            communicated_date=date(2026, 4, 10),
            tax_cgst=100000,
        )
    assert one(register(engine, m, date(2026, 5, 1)), "ORDER_IN_APPEAL", "APL05_APPEAL")[
        "due_date"
    ] == date(2026, 7, 10)
    with engine.begin() as conn:
        conn.execute(text("UPDATE notified_dates SET enabled = true WHERE date = '2026-07-31'"))
    row = one(register(engine, m, date(2026, 5, 1)), "ORDER_IN_APPEAL", "APL05_APPEAL")
    assert row["due_date"] == date(2026, 7, 31) and row["confidence"] == "uncertain"


def test_penalty_only_order_pre_deposit_depends_on_the_filing_date(engine: Engine) -> None:
    with engine.begin() as conn:
        m = matter(conn)
        late = proceeding(
            conn,
            m,
            "ORDER_OTHER",
            date(2025, 9, 1),
            communicated_date=date(2025, 9, 2),
            penalty=500000,
        )
        early = proceeding(
            conn,
            m,
            "ORDER_OTHER",
            date(2025, 9, 1),
            communicated_date=date(2025, 9, 2),
            penalty=500000,
        )
        event(conn, m, late, "APPEAL_FILED", date(2025, 10, 5))
        event(conn, m, early, "APPEAL_FILED", date(2025, 9, 25))
    found = register(engine, m, date(2025, 10, 6))
    with engine.connect() as conn:
        by_id = {
            r.proceeding_id: r
            for r in conn.execute(
                text("SELECT * FROM limitation_dates WHERE rule_id = 'APL01_PREDEPOSIT'")
            )
        }
    assert found
    assert by_id[late].amount == Decimal(50000) and by_id[late].rule_version == 3
    assert by_id[early].amount == Decimal(0) and by_id[early].status == "not_applicable"


def test_appeal_filed_in_the_condonation_month_is_met_late(engine: Engine) -> None:
    with engine.begin() as conn:
        m = matter(conn)
        pid = proceeding(
            conn,
            m,
            "ORDER_S73",
            date(2026, 11, 3),
            communicated_date=date(2026, 11, 4),
            tax_cgst=710000,
            tax_sgst=710000,
        )
        event(conn, m, pid, "PRE_DEPOSIT_PAID", date(2027, 2, 19), amount=142000)
        event(conn, m, pid, "APPEAL_FILED", date(2027, 2, 20))
    found = register(engine, m, date(2027, 2, 21))
    assert one(found, "ORDER_S73", "APL01_APPEAL")["status"] == "met_late"
    assert one(found, "ORDER_S73", "APL01_PREDEPOSIT")["status"] == "met"
    # Recovery could start from 04-02; the late appeal with deposit stays it (s.107(7)).
    assert one(found, "ORDER_S73", "RECOVERY_S78")["status"] == "met_late"


def test_without_a_communication_date_the_issue_date_is_assumed(engine: Engine) -> None:
    with engine.begin() as conn:
        m = matter(conn)
        proceeding(conn, m, "ORDER_S73", date(2026, 11, 3), tax_cgst=1000)
    row = one(register(engine, m, date(2026, 11, 29)), "ORDER_S73", "APL01_APPEAL")
    assert row["due_date"] == date(2027, 2, 3) and row["assumed"]
    assert row["anchor_date"] == date(2026, 11, 3)


def test_sql_and_python_month_arithmetic_agree(engine: Engine) -> None:
    rng = random.Random(13)
    pairs = [
        (
            date.fromordinal(
                rng.randrange(date(2017, 7, 1).toordinal(), date(2060, 1, 1).toordinal())
            ),
            rng.randrange(-120, 121),
        )
        for _ in range(3000)
    ] + [(date(2024, 1, 31), n) for n in range(-14, 15)]
    with engine.connect() as conn:
        got = (
            conn.execute(
                text(
                    "SELECT gstjobs_add_months(d, n) FROM unnest(CAST(:d AS date[]), "
                    "CAST(:n AS int[])) WITH ORDINALITY AS x (d, n, i) ORDER BY i"
                ),
                {"d": [p[0] for p in pairs], "n": [p[1] for p in pairs]},
            )
            .scalars()
            .all()
        )
    assert got == [dates.add_months(d, n) for d, n in pairs]
