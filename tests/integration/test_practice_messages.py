"""What a practice receives: hearing reminders and the morning digest, from crafted data.

The messages are rendered from the payloads the jobs queue (the statement that gathers
them is the one under test) and compared with reviewed samples in tests/samples/db/;
ids are replaced by ``<id>``. After a deliberate change, regenerate them with
``GSTJOBS_UPDATE_SAMPLES=1`` and read the diff.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from gstjobs import migrate
from gstjobs.notify.templates import Envelope, render, whatsapp_parameters
from tests.support import factory
from tests.support.jobs import run_job
from tests.support.servers import notify_settings, rows

IST = ZoneInfo("Asia/Kolkata")
SAMPLES = Path(__file__).parent.parent / "samples" / "db"
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def ist(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=IST).astimezone(UTC)


DAY = date(2026, 12, 1)  # a Tuesday
MORNING = ist(DAY, 8)  # the reminders' run
NINE = ist(DAY, 9)  # the digest's run


def insert(conn: Connection, table: str, **values: Any) -> uuid.UUID:
    values.setdefault("id", uuid.uuid4())
    names = ", ".join(values)
    binds = ", ".join(f":{k}" for k in values)
    conn.execute(text(f"INSERT INTO {table} ({names}) VALUES ({binds})"), values)
    return uuid.UUID(str(values["id"]))


def update(conn: Connection, table: str, row_id: uuid.UUID, **values: Any) -> None:
    sets = ", ".join(f"{k} = :{k}" for k in values)
    conn.execute(text(f"UPDATE {table} SET {sets} WHERE id = :id"), {"id": row_id, **values})


def envelope(name: str, now: datetime) -> Envelope:
    return Envelope(1, name, "Iyer & Rao Associates", "Asia/Kolkata", now, "https://app.example.in")


def check_sample(name: str, actual: str) -> None:
    actual = UUID_RE.sub("<id>", actual)
    sample = SAMPLES / name
    if os.environ.get("GSTJOBS_UPDATE_SAMPLES"):
        SAMPLES.mkdir(exist_ok=True)
        sample.write_text(actual, encoding="utf-8")
    assert actual == sample.read_text(encoding="utf-8"), f"{sample.name} differs"


def queued(engine: Engine, template: str) -> list[Any]:
    with engine.connect() as conn:
        return [r for r in rows(conn) if r.template == template]


@dataclass
class Practice:
    t: uuid.UUID
    partner: uuid.UUID
    associate: uuid.UUID
    senior: uuid.UUID
    client: uuid.UUID
    case: uuid.UUID
    scn: uuid.UUID
    court: uuid.UUID
    hearing: uuid.UUID


def practice(engine: Engine) -> Practice:
    """A Chennai practice with a personal hearing on an SCN u/s 73, every fact recorded."""
    with engine.begin() as conn:
        t = factory.tenant(conn, "Iyer & Rao Associates")
        partner = factory.user(conn, t, "admin", name="Lakshmi Iyer")
        associate = factory.user(conn, t, "advocate", name="Arjun Rao")
        senior = factory.user(conn, t, "advocate", name="Meera Krishnan")
        client = insert(
            conn,
            "clients",
            tenant_id=t,
            name="Kaveri Agro Exports Pvt Ltd",
            gstin="33AAACK1234F1Z5",
        )
        case = factory.case(
            conn,
            t,
            owner=partner,
            assigned_to=associate,
            number="DRC-01/2026-27/0031",
            title="Kaveri Agro: ITC mismatch u/s 73, FY 2021-22",
        )
        update(conn, "cases", case, client_id=client)
        scn = insert(
            conn,
            "proceedings",
            tenant_id=t,
            case_id=case,
            kind="SCN_S73",
            reference_no="ZD3309260012345",
            issue_date=date(2026, 9, 15),
            communicated_date=date(2026, 9, 16),
            reply_by_date=date(2026, 10, 15),
            financial_years=["2021-22"],
            state_code="33",
            tax_cgst=410000,
            tax_sgst=410000,
            authority="Deputy Commissioner of State Tax, Chennai North",
            representative_id=associate,
        )
        for n, by in enumerate(("taxpayer", "department", "taxpayer")):
            insert(
                conn,
                "proceeding_events",
                tenant_id=t,
                proceeding_id=scn,
                kind="ADJOURNMENT_GRANTED",
                event_date=date(2026, 10, 20) + timedelta(days=10 * n),
                sought_by=by,
            )
        insert(
            conn,
            "proceeding_events",
            tenant_id=t,
            proceeding_id=scn,
            kind="REPLY_FILED",
            event_date=date(2026, 10, 14),
        )
        court = factory.court(conn, "Deputy Commissioner of State Tax (Adjudication)", "Chennai")
        update(
            conn,
            "courts",
            court,
            address="Commercial Taxes Office Complex, Santhome High Road, Chennai 600028",
            state_code="33",
            forum="adjudicating_authority",
        )
        hearing = factory.hearing(conn, t, case, ist(DAY, 15), court_id=court)
        update(
            conn,
            "hearings",
            hearing,
            purpose="Personal hearing (s.75(4))",
            representative_id=senior,
            proceeding_id=scn,
        )
    return Practice(t, partner, associate, senior, client, case, scn, court, hearing)


# ---------------------------------------------------------------- hearing reminders
def test_a_full_reminder_states_what_an_advocate_needs(engine: Engine, db_url: URL) -> None:
    p = practice(engine)
    outcome = run_job(notify_settings(db_url), "hearing-reminders", as_of=MORNING)
    assert (outcome.results["hearingsFound"], outcome.results["notificationsQueued"]) == (1, 3)
    reminders = {r.user_id: r for r in queued(engine, "hearing_reminder")}
    # The senior who appears is told so; the associate stays the assigned advocate.
    assert {k: r.payload["roles"] for k, r in reminders.items()} == {
        p.partner: ["owner"],
        p.senior: ["appearing representative"],
        p.associate: ["assigned advocate"],
    }
    payload = reminders[p.senior].payload
    assert payload["representative"] == "Meera Krishnan"
    assert payload["adjournments"] == 2  # the department's own adjournment is not counted
    rendered = render("hearing_reminder", payload, envelope("Meera Krishnan", MORNING))
    assert rendered.subject == (
        "Hearing Reminder: DRC-01/2026-27/0031 - Deputy Commissioner of State Tax "
        "(Adjudication), Kaveri Agro Exports Pvt Ltd, Tue, 01-12-2026, 3:00 PM IST"
    )
    check_sample("hearing_reminder.full.txt", rendered.text)
    assert "Adjournments: 2 of 3 used (s.75(5)): one left" in rendered.text
    assert "Only one adjournment is left (s.75(5))" in rendered.text
    assert whatsapp_parameters("hearing_reminder", payload, envelope("M", MORNING)) == [
        "Kaveri Agro Exports Pvt Ltd, DRC-01/2026-27/0031",
        "Deputy Commissioner of State Tax (Adjudication), Chennai",
        "Tue, 01-12-2026, 3:00 PM IST",
        "Iyer & Rao Associates",
    ]


def test_an_appeal_hearing_takes_the_demand_from_the_order_and_the_notice_behind_it(
    engine: Engine, db_url: URL
) -> None:
    p = practice(engine)
    with engine.begin() as conn:
        case = factory.case(conn, p.t, owner=p.partner, number="APL/2026/0007", title="Appeal")
        scn = insert(
            conn,
            "proceedings",
            tenant_id=p.t,
            case_id=case,
            kind="SCN_S74",
            issue_date=date(2024, 11, 20),
            financial_years=["2019-20", "2020-21"],
            tax_igst=1200000,
            gstin="33AAACK1234F1Z5",
            status="concluded",
        )
        order = insert(
            conn,
            "proceedings",
            tenant_id=p.t,
            case_id=case,
            parent_id=scn,
            kind="ORDER_S74",
            reference_no="ZD330625009876Q",
            issue_date=date(2025, 6, 30),
            status="superseded",
        )
        insert(
            conn,
            "proceedings",
            tenant_id=p.t,
            case_id=case,
            parent_id=order,
            kind="APL_01_FILED",
            reference_no="AD3309250004567",
            issue_date=date(2025, 9, 25),
            representative_id=p.senior,
        )
        factory.hearing(
            conn, p.t, case, ist(DAY - timedelta(days=20), 11), court_id=None, status="Adjourned"
        )
        court = factory.court(conn, "Joint Commissioner (Appeals)", "Chennai")
        factory.hearing(conn, p.t, case, ist(DAY, 11, 30), court_id=court)
    run_job(notify_settings(db_url), "hearing-reminders", as_of=MORNING)
    (payload,) = [
        r.payload
        for r in queued(engine, "hearing_reminder")
        if r.payload["case_id"] == str(case) and r.user_id == p.senior
    ]
    text_part = render("hearing_reminder", payload, envelope("M", MORNING)).text
    # The appeal is the case's open proceeding; what it is about comes from its ancestors.
    assert "Reference:    AD3309250004567 dt 25-09-2025" in text_part
    assert "Notice:       First appeal (APL-01), s.107, against a demand u/s 74" in text_part
    assert "FY:           2019-20, 2020-21" in text_part
    assert "Tax:          ₹12,00,000" in text_part
    assert "(GSTIN 33AAACK1234F1Z5)" in text_part
    assert "Appearing:    Meera Krishnan" in text_part  # the proceeding's representative
    # No adjournment recorded on the appeal: the case's adjourned hearing counts.
    assert "Adjournments: 1 of 3 used (s.107(9)): 2 left" in text_part
    assert "Checklist for a hearing before the Appellate Authority:" in text_part
    assert "[ ] Proof of the pre-deposit (10% of the tax in dispute, s.107(6))" in text_part
    assert "Address:" not in text_part  # the forum has none recorded


CONTRACT_ONLY = """
CREATE TABLE tenants (id uuid PRIMARY KEY, name text, timezone text DEFAULT 'Asia/Kolkata');
CREATE TABLE users (id uuid PRIMARY KEY, tenant_id uuid NOT NULL, full_name text, email text,
    phone text, role text, whatsapp_opt_in bool, is_active bool);
CREATE TABLE courts (id uuid PRIMARY KEY, name text, city text);
CREATE TABLE cases (id uuid PRIMARY KEY, tenant_id uuid NOT NULL, case_number text, title text,
    status text, owner_id uuid, assigned_to uuid);
CREATE TABLE hearings (id uuid PRIMARY KEY, tenant_id uuid NOT NULL, case_id uuid,
    court_id uuid, hearing_date timestamptz, status text);
CREATE TABLE tasks (id uuid PRIMARY KEY, tenant_id uuid NOT NULL, case_id uuid, title text,
    priority text, status text, assigned_to uuid, due_date timestamptz, created_at timestamptz,
    completed_at timestamptz);
INSERT INTO tenants VALUES ('00000000-0000-0000-0000-0000000000aa', 'Existing', 'Asia/Kolkata');
INSERT INTO users VALUES ('00000000-0000-0000-0000-0000000000a1',
    '00000000-0000-0000-0000-0000000000aa', 'Old Advocate', 'old@example.in', NULL, 'advocate',
    false, true);
INSERT INTO courts VALUES ('00000000-0000-0000-0000-0000000000c1', 'GSTAT', 'Mumbai');
INSERT INTO cases VALUES ('00000000-0000-0000-0000-0000000000ca',
    '00000000-0000-0000-0000-0000000000aa', 'DRC-01/2024/7', 'SCN u/s 73', 'Active',
    NULL, '00000000-0000-0000-0000-0000000000a1');
INSERT INTO cases VALUES ('00000000-0000-0000-0000-0000000000cb',
    '00000000-0000-0000-0000-0000000000aa', 'DRC-01/2023/2', 'SCN u/s 74', 'Closed',
    NULL, '00000000-0000-0000-0000-0000000000a1');
INSERT INTO hearings VALUES ('00000000-0000-0000-0000-0000000000e1',
    '00000000-0000-0000-0000-0000000000aa', '00000000-0000-0000-0000-0000000000ca',
    '00000000-0000-0000-0000-0000000000c1', '2026-12-01 15:00+05:30', 'Scheduled');
INSERT INTO hearings VALUES ('00000000-0000-0000-0000-0000000000e2',
    '00000000-0000-0000-0000-0000000000aa', '00000000-0000-0000-0000-0000000000cb',
    '00000000-0000-0000-0000-0000000000c1', '2026-12-01 16:00+05:30', 'Scheduled');
"""


def test_a_contract_only_database_gets_a_reminder_that_leaves_out_what_it_cannot_say(
    empty_db_url: URL,
) -> None:
    engine = create_engine(empty_db_url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.connection.driver_connection.execute(CONTRACT_ONLY)  # type: ignore[union-attr]
        migrate.upgrade(engine)
        outcome = run_job(notify_settings(empty_db_url), "hearing-reminders", as_of=MORNING)
        (row,) = queued(engine, "hearing_reminder")
    finally:
        engine.dispose()
    assert outcome.results["hearingsFound"] == 1  # the closed case's hearing is left alone
    assert row.payload["representative"] == "Old Advocate"  # the case's assigned advocate
    assert row.payload["roles"] == ["appearing representative"]
    rendered = render("hearing_reminder", row.payload, envelope("Old Advocate", MORNING))
    check_sample("hearing_reminder.contract.txt", rendered.text)
    for absent in ("Client:", "Reference:", "Notice:", "FY:", "Tax:", "Address:", "Adjourn"):
        assert absent not in rendered.text
    assert (
        rendered.subject == "Hearing Reminder: DRC-01/2024/7 - GSTAT, Tue, 01-12-2026, 3:00 PM IST"
    )


# ---------------------------------------------------------------- closed matters
def test_closed_matters_raise_no_digest_item_event_or_reminder(engine: Engine, db_url: URL) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        u = factory.user(conn, t)
        open_case = factory.case(conn, t, owner=u, assigned_to=u, number="OPEN/1")
        closed = factory.case(conn, t, owner=u, assigned_to=u, number="SHUT/1", status="Closed")
        kept = {}
        for case, tag in ((open_case, "open"), (closed, "closed")):
            kept[tag] = {
                "due": factory.task(
                    conn,
                    t,
                    due=NINE + timedelta(hours=3),
                    created=NINE - timedelta(days=9),
                    assigned_to=u,
                    case_id=case,
                    title=f"Pay pre-deposit ({tag})",
                ),
                "overdue": factory.task(
                    conn,
                    t,
                    due=NINE - timedelta(days=2),
                    created=NINE - timedelta(days=9),
                    assigned_to=u,
                    case_id=case,
                    title=f"File reply ({tag})",
                ),
                "hearing": factory.hearing(conn, t, case, NINE + timedelta(hours=5)),
            }
        no_case = factory.task(
            conn, t, due=NINE + timedelta(hours=2), created=NINE - timedelta(days=1), assigned_to=u
        )
    settings = notify_settings(db_url)
    digest = run_job(settings, "deadline-alerts", as_of=NINE)
    reminders = run_job(settings, "hearing-reminders", as_of=NINE)
    assert (digest.results["tasksDue"], digest.results["hearingsDue"]) == (2, 1)
    assert digest.results["tasksOverdue"] == 1
    (row,) = queued(engine, "deadline_digest")
    ids = {i["id"] for i in row.payload["items"]} | {i["id"] for i in row.payload["overdue"]}
    assert ids == {
        str(kept["open"]["due"]),
        str(kept["open"]["overdue"]),
        str(kept["open"]["hearing"]),
        str(no_case),
    }
    with engine.connect() as conn:
        events = set(conn.execute(text("SELECT entity_id FROM automation_events")).scalars())
    assert events == {kept["open"]["due"], kept["open"]["hearing"], no_case}
    assert reminders.results["hearingsFound"] == 1
    assert {r.payload["hearing_id"] for r in queued(engine, "hearing_reminder")} == {
        str(kept["open"]["hearing"])
    }


# ---------------------------------------------------------------- the morning digest
def test_the_overdue_block_oldest_first_with_days_overdue(engine: Engine, db_url: URL) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        me, idle = factory.user(conn, t), factory.user(conn, t)
        created = NINE - timedelta(days=60)
        week = factory.task(conn, t, due=NINE - timedelta(days=7), created=created, assigned_to=me)
        early = factory.task(conn, t, due=ist(DAY, 7), created=created, assigned_to=me)
        month = factory.task(
            conn, t, due=NINE - timedelta(days=30), created=created, assigned_to=me
        )
        factory.task(
            conn,
            t,
            due=NINE - timedelta(days=3),
            created=created,
            assigned_to=me,
            status="Completed",
            completed_at=NINE - timedelta(days=4),
        )
        for n in range(23):  # a neglected queue: 20 described, all counted
            factory.task(
                conn,
                t,
                due=NINE - timedelta(days=40 + n),
                created=created - timedelta(days=30),
                assigned_to=idle,
                priority="Low",
                title=f"Old {n}",
            )
    outcome = run_job(notify_settings(db_url), "deadline-alerts", as_of=NINE)
    assert (outcome.results["tasksDue"], outcome.results["tasksOverdue"]) == (0, 26)
    assert isinstance(outcome.results["tasksOverdue"], int)  # JSON number, not a numeric string
    digests = {r.user_id: r.payload for r in queued(engine, "deadline_digest")}
    assert set(digests) == {me, idle}  # overdue alone is worth the morning message
    mine = digests[me]
    assert [(i["id"], i["days_overdue"]) for i in mine["overdue"]] == [
        (str(month), 30),
        (str(week), 7),
        (str(early), 0),
    ]
    assert (mine["items"], mine["overdue_total"]) == ([], 3)
    theirs = digests[idle]
    assert (len(theirs["overdue"]), theirs["overdue_total"]) == (20, 23)
    assert theirs["overdue"][0]["title"] == "Old 22"  # the oldest first
    env = envelope("A", NINE)
    text_part = render("deadline_digest", theirs, env).text
    assert "OVERDUE (23), oldest first:" in text_part
    assert "...and 3 more: https://app.example.in/tasks?status=overdue" in text_part
    subject = render("deadline_digest", mine, env).subject
    assert subject == "Your deadlines: 3 overdue, 0 due in the next 24 hours"
    assert "overdue since 7:00 AM IST today" in render("deadline_digest", mine, env).text


def test_the_morning_digest_a_partner_reads_first(engine: Engine, db_url: URL) -> None:
    p = practice(engine)
    with engine.begin() as conn:
        before = NINE - timedelta(days=20)
        factory.task(
            conn,
            p.t,
            due=ist(DAY - timedelta(days=3), 17, 30),
            created=before,
            assigned_to=p.associate,
            case_id=p.case,
            priority="Critical",
            title="Send written submissions to the client for approval",
        )
        factory.task(
            conn,
            p.t,
            due=ist(DAY - timedelta(days=10), 18),
            created=before,
            assigned_to=p.associate,
            case_id=p.case,
            priority="Medium",
            title="Collect purchase register for FY 2021-22",
        )
        factory.task(
            conn,
            p.t,
            due=ist(DAY, 13),
            created=before,
            assigned_to=p.associate,
            case_id=p.case,
            priority="High",
            title="Prepare the hearing brief and list of dates",
        )
        # A second matter: an order u/s 73 communicated on 03-09-2026, whose APL-01
        # falls due on 03-12-2026 (the statutory block).
        order_case = factory.case(
            conn,
            p.t,
            owner=p.partner,
            assigned_to=p.associate,
            number="DRC-07/2026-27/0112",
            title="Kaveri Agro: order u/s 73",
        )
        update(conn, "cases", order_case, client_id=p.client)
        insert(
            conn,
            "proceedings",
            tenant_id=p.t,
            case_id=order_case,
            kind="ORDER_S73",
            reference_no="ZD3309260054321",
            issue_date=date(2026, 9, 2),
            communicated_date=date(2026, 9, 3),
            financial_years=["2021-22"],
            state_code="33",
            tax_cgst=150000,
            tax_sgst=150000,
            authority="Deputy Commissioner of State Tax, Chennai North",
        )
        factory.task(
            conn,
            p.t,
            due=ist(DAY, 18),
            created=before,
            assigned_to=p.associate,
            case_id=order_case,
            priority="Critical",
            title="Pay the pre-deposit and file APL-01",
        )
    settings = notify_settings(db_url)
    run_job(settings, "limitation-watch", as_of=ist(DAY, 7, 30))
    outcome = run_job(settings, "deadline-alerts", as_of=NINE)
    assert outcome.results["tasksOverdue"] == 2
    digests = {
        r.user_id: r.payload for r in queued(engine, "deadline_digest") if r.channel == "email"
    }
    payload = digests[p.associate]
    assert [s["rule_id"] for s in payload["statutory"]] == [
        "RECTIFICATION_S161",  # issue + 3 months: 02-12-2026
        "APL01_APPEAL",  # communication + 3 months: 03-12-2026
        "APL01_PREDEPOSIT",
    ]
    rendered = render("deadline_digest", payload, envelope("Arjun Rao", NINE))
    check_sample("deadline_digest.morning.txt", rendered.text)
    assert rendered.subject == (
        "Your deadlines: 2 overdue, 3 due in the next 24 hours (3 high priority), "
        "3 statutory dates in the next 7 days"
    )
    text_part = rendered.text
    assert text_part.index("STATUTORY DATES") < text_part.index("OVERDUE (2)")
    assert text_part.index("OVERDUE (2)") < text_part.index("DUE TODAY AND IN THE NEXT 24 HOURS")
    assert "Asia/Kolkata" not in text_part and "Times are in IST." in text_part
    params = whatsapp_parameters("deadline_digest", payload, envelope("A", NINE))
    assert params[:2] == ["2", "3"]
    assert params[2].startswith(
        "OVERDUE 10 days: Collect purchase register for FY 2021-22 "
        "(Kaveri Agro Exports Pvt Ltd, DRC-01/2026-27/0031); OVERDUE 3 days: "
    )
    assert params[2].endswith("; and 2 more")
