"""The demo agrees with the law and with itself, checked by SQL over the loaded rows.

Each check is a query that returns the rows breaking one rule (empty is good). They
run over several seeds and moments, with holidays in the ``holidays`` table that the
loader must respect, and a control corrupts the data to show each kind of check can
fail.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, Engine, text

from gstjobs import demo
from gstjobs.demo.vocabulary import NATIONAL_HOLIDAYS

IST = ZoneInfo("Asia/Kolkata")
MOMENTS = (
    (7, datetime(2026, 12, 1, 7, 30, tzinfo=IST)),
    (11, datetime(2026, 1, 15, 10, 0, tzinfo=IST)),
    (3, datetime(2027, 6, 30, 18, 45, tzinfo=IST)),
)
# Holidays entered by a practice: a national one and one of Maharashtra only, on
# weekdays near the moments above.
ENTERED = (
    (None, date(2026, 11, 24), "Guru Nanak Jayanti (entered)"),
    ("27", date(2026, 12, 2), "a Maharashtra holiday (entered)"),
    (None, date(2027, 7, 6), "a national holiday (entered)"),
)

# Working day and office hours, in IST, for a timestamptz expression.
_LOCAL = "({0} AT TIME ZONE 'Asia/Kolkata')"
_FIXED = ", ".join(f"'{m:02d}-{d:02d}'" for m, d, _ in NATIONAL_HOLIDAYS)


def _off_day(day: str, state: str) -> str:
    """SQL: ``day`` (a date expression) is a weekend or a holiday for ``state``."""
    return (
        f"(extract(isodow FROM {day}) >= 6 OR to_char({day}, 'MM-DD') IN ({_FIXED})"
        f" OR EXISTS (SELECT 1 FROM holidays hd WHERE hd.date = {day}"
        f" AND (hd.state_code IS NULL OR hd.state_code = {state})))"
    )


def _outside_hours(ts: str) -> str:
    local = _LOCAL.format(ts)
    return f"({local}::time < TIME '10:00' OR {local}::time > TIME '18:00')"


# An SCN's last date for its FY: s.73 3 months before the order's (3 years from the
# GSTR-9 due date), s.74 6 months before 5 years (sections 73(2), (10), 74(2), (10)).
_SCN_BY = """
    (SELECT CASE WHEN p.kind = 'SCN_S73'
                 THEN (a.due_date + interval '36 months' - interval '3 months')::date
                 ELSE (a.due_date + interval '60 months' - interval '6 months')::date END
     FROM annual_return_due_dates a
     WHERE a.fy = p.financial_years[1] AND a.state_code IS NULL AND a.district IS NULL)
"""

CHECKS: dict[str, str] = {
    "no demo address can be delivered, no demo number messaged": """
        SELECT u.id FROM users u
        WHERE u.whatsapp_opt_in OR u.email NOT LIKE '%.example'
    """,
    "s.73 and s.74 notices are for FY 2023-24 or earlier (s.74A from FY 2024-25)": """
        SELECT p.reference_no, p.kind, p.financial_years FROM proceedings p
        WHERE p.kind IN ('DRC_01A', 'SCN_S73', 'SCN_S74', 'ORDER_S73', 'ORDER_S74')
          AND EXISTS (SELECT 1 FROM unnest(p.financial_years) fy WHERE fy >= '2024-25')
    """,
    "ASMT-10 and DRC-01A matters have no hearings": """
        SELECT c.case_number FROM hearings h JOIN cases c ON c.id = h.case_id
        WHERE c.notice_type IN ('ASMT-10', 'DRC-01A')
    """,
    "a hearing's forum is the level the matter is at": """
        SELECT c.case_number, ct.forum FROM hearings h
        JOIN cases c ON c.id = h.case_id JOIN courts ct ON ct.id = h.court_id
        WHERE ct.forum IS DISTINCT FROM CASE c.notice_type
            WHEN 'DRC-01 s.73' THEN 'adjudicating_authority'
            WHEN 'DRC-01 s.74' THEN 'adjudicating_authority'
            WHEN 'APL-01' THEN 'appellate_authority'
            WHEN 'GSTAT' THEN 'gstat' END
    """,
    "a hearing sits in the client's state": """
        SELECT c.case_number FROM hearings h
        JOIN cases c ON c.id = h.case_id JOIN clients cl ON cl.id = c.client_id
        JOIN courts ct ON ct.id = h.court_id
        WHERE ct.state_code IS DISTINCT FROM left(cl.gstin, 2)
    """,
    "a hearing is heard on a proceeding of its matter, of the forum's kind": """
        SELECT c.case_number FROM hearings h
        JOIN cases c ON c.id = h.case_id JOIN courts ct ON ct.id = h.court_id
        LEFT JOIN proceedings p ON p.id = h.proceeding_id AND p.case_id = h.case_id
        WHERE p.id IS NULL
           OR (ct.forum = 'adjudicating_authority' AND p.kind NOT IN ('SCN_S73', 'SCN_S74'))
           OR (ct.forum = 'appellate_authority' AND p.kind <> 'APL_01_FILED')
           OR (ct.forum = 'gstat' AND p.kind <> 'APL_05_FILED')
           OR (h.hearing_date AT TIME ZONE 'Asia/Kolkata')::date <= p.issue_date
    """,
    "no hearing on a weekend or a holiday, none outside office hours": f"""
        SELECT h.hearing_date FROM hearings h JOIN courts ct ON ct.id = h.court_id
        WHERE {_off_day("(h.hearing_date AT TIME ZONE 'Asia/Kolkata')::date", "ct.state_code")}
           OR {_outside_hours("h.hearing_date")}
    """,
    "a hearing has an appearing representative of the practice": """
        SELECT h.id FROM hearings h LEFT JOIN users u ON u.id = h.representative_id
        WHERE u.tenant_id IS DISTINCT FROM h.tenant_id OR u.role = 'staff'
    """,
    "hearings past are not left Scheduled beyond a few; future ones are Scheduled": """
        SELECT h.id FROM hearings h
        WHERE h.hearing_date > CAST(:now AS timestamptz) AND h.status <> 'Scheduled'
    """,
    "at most three taxpayer adjournments per proceeding (s.75(5))": """
        SELECT proceeding_id FROM proceeding_events
        WHERE kind = 'ADJOURNMENT_GRANTED' AND sought_by = 'taxpayer'
        GROUP BY proceeding_id HAVING count(*) > 3
    """,
    "every adjourned hearing is an adjournment event": """
        SELECT h.id FROM hearings h
        WHERE h.status = 'Adjourned' AND NOT EXISTS (
            SELECT 1 FROM proceeding_events e WHERE e.proceeding_id = h.proceeding_id
              AND e.kind = 'ADJOURNMENT_GRANTED'
              AND e.event_date = (h.hearing_date AT TIME ZONE 'Asia/Kolkata')::date)
    """,
    "tasks fall due on working days in office hours": f"""
        SELECT t.title, t.due_date FROM tasks t
        LEFT JOIN cases c ON c.id = t.case_id LEFT JOIN clients cl ON cl.id = c.client_id
        WHERE {_off_day("(t.due_date AT TIME ZONE 'Asia/Kolkata')::date", "left(cl.gstin, 2)")}
           OR {_outside_hours("t.due_date")}
    """,
    "no task is created before its matter, due before it is created, or created after now": """
        SELECT t.title FROM tasks t LEFT JOIN cases c ON c.id = t.case_id
        WHERE t.created_at < c.created_at OR t.due_date <= t.created_at
           OR t.created_at > CAST(:now AS timestamptz)
    """,
    "a task's status agrees with its dates": """
        SELECT t.title, t.status FROM tasks t
        WHERE (t.status = 'Completed') <> (t.completed_at IS NOT NULL)
           OR t.completed_at > CAST(:now AS timestamptz) OR t.completed_at <= t.created_at
           OR (t.status = 'Pending') <> (t.started_at IS NULL AND t.status <> 'Cancelled'
                                          AND t.completed_at IS NULL)
           OR t.started_at < t.created_at OR t.started_at > COALESCE(t.completed_at, :now)
    """,
    "task chains in statutory order, none done before the step it follows": """
        WITH step (earlier, later) AS (VALUES
            ('Draft ASMT-11%', 'File ASMT-11%'),
            ('Draft DRC-01A Part B%', 'File DRC-01A Part B%'),
            ('Draft reply to DRC-01%', 'Submit reply in DRC-06%'),
            ('Client approval of draft reply%', 'Submit reply in DRC-06%'),
            ('Draft reply to DRC-01%', 'Client approval of draft reply%'),
            ('Pay pre-deposit of 10%', 'File APL-01%'),
            ('Obtain copy of DRC-07%', 'Pay pre-deposit of 10%'),
            ('Pay additional pre-deposit%', 'File APL-05%'))
        SELECT a.title, b.title FROM step s
        JOIN tasks a ON a.title LIKE s.earlier
        JOIN tasks b ON b.case_id = a.case_id AND b.title LIKE s.later
        WHERE a.due_date >= b.due_date
           OR (b.completed_at IS NOT NULL
               AND (a.completed_at IS NULL OR a.completed_at > b.completed_at))
    """,
    "a hearing brief is due at 17:00 the working day before a hearing of its matter": f"""
        SELECT t.title, t.due_date FROM tasks t
        JOIN cases c ON c.id = t.case_id JOIN clients cl ON cl.id = c.client_id
        WHERE (t.title LIKE 'Prepare hearing brief%' OR t.title LIKE 'Compile paper book%')
          AND ((t.due_date AT TIME ZONE 'Asia/Kolkata')::time <> TIME '17:00'
               OR NOT EXISTS (
                   SELECT 1 FROM hearings h
                   WHERE h.case_id = t.case_id
                     AND (SELECT max(g.d)::date FROM generate_series(
                              (h.hearing_date AT TIME ZONE 'Asia/Kolkata')::date - 10,
                              (h.hearing_date AT TIME ZONE 'Asia/Kolkata')::date - 1,
                              interval '1 day') AS g (d)
                          WHERE NOT {_off_day("g.d::date", "left(cl.gstin, 2)")})
                         = (t.due_date AT TIME ZONE 'Asia/Kolkata')::date))
    """,
    "no open task forgotten for months (an appeal lapsed beyond condonation is closed)": """
        SELECT t.title, t.due_date FROM tasks t
        WHERE t.status IN ('Pending', 'In Progress')
          AND t.due_date < CAST(:now AS timestamptz) - interval '120 days'
    """,
    "matters opened and closed consistently with now": """
        SELECT c.case_number FROM cases c
        WHERE c.created_at > CAST(:now AS timestamptz)
           OR (c.status = 'Closed') <> (c.closed_at IS NOT NULL)
           OR c.closed_at < c.created_at OR c.closed_at > CAST(:now AS timestamptz)
    """,
    "a closed matter has nothing open": """
        SELECT c.case_number FROM cases c
        WHERE c.status = 'Closed' AND (
            EXISTS (SELECT 1 FROM tasks t WHERE t.case_id = c.id
                    AND (t.status IN ('Pending', 'In Progress') OR t.completed_at > c.closed_at))
         OR EXISTS (SELECT 1 FROM hearings h WHERE h.case_id = c.id
                    AND (h.status = 'Scheduled' OR h.hearing_date > c.closed_at))
         OR EXISTS (SELECT 1 FROM proceedings p WHERE p.case_id = c.id
                    AND p.status = 'open'))
    """,
    "a matter's proceedings chain fits its notice type": """
        SELECT c.case_number, c.notice_type FROM cases c
        WHERE NOT EXISTS (
            SELECT 1 FROM proceedings p WHERE p.case_id = c.id AND p.kind = CASE c.notice_type
                WHEN 'ASMT-10' THEN 'ASMT_10' WHEN 'DRC-01A' THEN 'DRC_01A'
                WHEN 'DRC-01 s.73' THEN 'SCN_S73' WHEN 'DRC-01 s.74' THEN 'SCN_S74'
                WHEN 'GSTAT' THEN 'ORDER_IN_APPEAL' END)
          AND NOT (c.notice_type = 'APL-01' AND EXISTS (
              SELECT 1 FROM proceedings p WHERE p.case_id = c.id
                AND p.kind IN ('ORDER_S73', 'ORDER_S74')))
        UNION ALL
        SELECT c.case_number, p.kind FROM proceedings p
        JOIN cases c ON c.id = p.case_id
        LEFT JOIN proceedings parent ON parent.id = p.parent_id
        WHERE parent.case_id IS DISTINCT FROM CASE WHEN p.parent_id IS NULL THEN NULL
                                                   ELSE p.case_id END
           OR parent.issue_date > p.issue_date
           OR (p.kind LIKE 'ORDER_S7%' AND parent.kind <> 'SCN_S' || right(p.kind, 2))
           OR (p.kind = 'APL_01_FILED' AND parent.kind NOT LIKE 'ORDER_S7%')
           OR (p.kind = 'ORDER_IN_APPEAL' AND parent.kind <> 'APL_01_FILED')
           OR (p.kind = 'APL_05_FILED' AND parent.kind <> 'ORDER_IN_APPEAL')
           OR p.issue_date > CAST(:now AS timestamptz)
           OR p.communicated_date < p.issue_date
           OR p.state_code <> left(p.gstin, 2)
    """,
    "an appeal is filed after its pre-deposit, and not before its order": """
        SELECT e.proceeding_id FROM proceeding_events e
        JOIN proceedings p ON p.id = e.proceeding_id
        WHERE e.kind = 'APPEAL_FILED' AND (
            NOT EXISTS (SELECT 1 FROM proceeding_events d WHERE d.proceeding_id = e.proceeding_id
                        AND d.kind = 'PRE_DEPOSIT_PAID' AND d.event_date < e.event_date)
            OR e.event_date < COALESCE(p.communicated_date, p.issue_date))
        UNION ALL
        SELECT id FROM proceeding_events WHERE event_date > CAST(:now AS timestamptz)
    """,
    "the case number's FY is the FY of its proceedings": """
        SELECT c.case_number FROM cases c JOIN proceedings p ON p.case_id = c.id
        WHERE split_part(c.case_number, '/', 2) <> ALL(p.financial_years)
    """,
    "no GSTR-2B before FY 2020-21": """
        SELECT case_number FROM cases
        WHERE title LIKE '%GSTR-2B%' AND split_part(case_number, '/', 2) < '2020-21'
    """,
    "an SCN is time-barred on its own dates only when its matter says so": f"""
        SELECT c.case_number, p.issue_date, {_SCN_BY} AS scn_by FROM proceedings p
        JOIN cases c ON c.id = p.case_id
        WHERE p.kind IN ('SCN_S73', 'SCN_S74')
          AND (p.issue_date > {_SCN_BY}) <> (c.title LIKE '%limitation defence%')
    """,
    "a PAN's 4th letter is the client's entity type": """
        SELECT name, gstin FROM clients
        WHERE substr(gstin, 6, 1) <> CASE
            WHEN name ~ '(Pvt Ltd|Private Limited| Ltd)$' THEN 'C'
            WHEN name ~ '(LLP|& Co\\.|& Sons)$' THEN 'F'
            WHEN name ~ '\\(Prop\\. ' THEN 'P'
            WHEN name ~ ' HUF$' THEN 'H' END
    """,
    "a PAN's 5th letter is the name's initial (a proprietor's surname's)": """
        SELECT name, gstin FROM clients
        WHERE substr(gstin, 7, 1) <> CASE
            WHEN name ~ '\\(Prop\\. ' THEN left(substring(name FROM ' (\\w+)\\)$'), 1)
            ELSE left(name, 1) END
    """,
    "no demo rule reassigns work or dates a task at night": """
        SELECT name FROM automation_rules r, jsonb_array_elements(r.actions) a
        WHERE a ? 'reassign_to' OR (a ->> 'reassign')::boolean
           OR (a ->> 'type' = 'create_task' AND (a ->> 'due_in_hours')::int > 8)
    """,
}


def _load(engine: Engine, seed: int, now: datetime, tenants: int = 3, tasks: int = 150) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO holidays (state_code, date, name) VALUES (:s, :d, :n)"),
            [{"s": s, "d": d, "n": n} for s, d, n in ENTERED],
        )
        demo.load(conn, tenants=tenants, seed=seed, tasks_per_tenant=tasks, anchor=now, reset=False)


def _broken(conn: Connection, now: datetime) -> dict[str, list[object]]:
    found = {}
    for name, sql in CHECKS.items():
        rows = conn.execute(text(sql), {"now": now}).all()
        if rows:
            found[name] = [tuple(r) for r in rows[:3]]
    return found


@pytest.mark.parametrize(("seed", "now"), MOMENTS, ids=[str(s) for s, _ in MOMENTS])
def test_the_demo_keeps_every_rule(engine: Engine, seed: int, now: datetime) -> None:
    _load(engine, seed, now)
    with engine.connect() as conn:
        assert _broken(conn, now) == {}
        counts = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM hearings), (SELECT count(*) FROM proceedings),"
                " (SELECT count(*) FROM cases WHERE status = 'Closed'),"
                " (SELECT count(DISTINCT notice_type) FROM cases),"
                " (SELECT count(*) FROM cases WHERE title LIKE '%limitation defence%'),"
                " (SELECT count(*) FROM tasks WHERE due_date IS NULL AND status = 'Pending')"
            )
        ).one()
    hearings, proceedings, closed, notice_types, barred, untouched = counts
    assert untouched > 0  # first actions not yet taken: the SLA (time to first action) has work
    assert hearings > 10 and proceedings > 50 and closed > 0 and notice_types == 6
    assert barred > 0 or now.year < 2026  # deliberate defences, once any FY can be barred


def test_each_check_catches_what_it_is_for(engine: Engine) -> None:
    """A control: break the data one way per kind of rule; the matching check fires."""
    seed, now = MOMENTS[0]
    _load(engine, seed, now)
    breakages = {
        "no demo address can be delivered, no demo number messaged": (
            "UPDATE users SET whatsapp_opt_in = true WHERE id = (SELECT min(id::text)::uuid"
            " FROM users)"
        ),
        "no hearing on a weekend or a holiday, none outside office hours": (
            "UPDATE hearings SET hearing_date = TIMESTAMPTZ '2026-11-29 11:00+05:30'"
            " WHERE id = (SELECT min(id::text)::uuid FROM hearings)"
        ),
        "a hearing sits in the client's state": (
            "UPDATE hearings SET court_id = (SELECT id FROM courts WHERE state_code = '07'"
            " AND forum = 'adjudicating_authority') WHERE id = (SELECT h.id FROM hearings h"
            " JOIN cases c ON c.id = h.case_id JOIN clients cl ON cl.id = c.client_id"
            " WHERE left(cl.gstin, 2) <> '07' AND c.notice_type LIKE 'DRC-01 %' LIMIT 1)"
        ),
        "task chains in statutory order, none done before the step it follows": (
            "UPDATE tasks SET due_date = due_date + interval '60 days'"
            " WHERE title LIKE 'Draft reply to DRC-01%'"
        ),
        "matters opened and closed consistently with now": (
            "UPDATE cases SET closed_at = created_at - interval '1 day'"
            " WHERE id = (SELECT min(id::text)::uuid FROM cases WHERE status = 'Closed')"
        ),
        "a PAN's 4th letter is the client's entity type": (
            "UPDATE clients SET name = name || ' Pvt Ltd'"
            " WHERE id = (SELECT min(id::text)::uuid FROM clients WHERE name LIKE '%(Prop.%')"
        ),
        "a PAN's 5th letter is the name's initial (a proprietor's surname's)": (
            "UPDATE clients SET name = 'Z' || name"
            " WHERE id = (SELECT min(id::text)::uuid FROM clients WHERE name LIKE '% HUF')"
        ),
        "s.73 and s.74 notices are for FY 2023-24 or earlier (s.74A from FY 2024-25)": (
            "UPDATE proceedings SET financial_years = '{2024-25}'"
            " WHERE id = (SELECT min(id::text)::uuid FROM proceedings WHERE kind = 'SCN_S74')"
        ),
        "an SCN is time-barred on its own dates only when its matter says so": (
            "UPDATE proceedings SET financial_years = '{2017-18}'"
            " WHERE id = (SELECT min(id::text)::uuid FROM proceedings WHERE kind = 'SCN_S73')"
        ),
    }
    for check, breaking in breakages.items():
        with engine.connect() as conn:
            assert check not in _broken(conn, now)
            conn.execute(text(breaking))
            assert check in _broken(conn, now), check
            conn.rollback()
