"""limitation-watch end to end in-process: idempotence, the audit of changes, alerts."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text

from gstjobs.config import Settings
from gstjobs.limitation import findings, register
from gstjobs.notify.templates import Envelope, render
from tests.support.jobs import run_job
from tests.support.limitation import IST, event, matter, morning, proceeding

AS_SENT = datetime(2026, 11, 29, 3, 0, tzinfo=IST)


def _notifications(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT user_id, channel, payload, dedup_key, next_attempt_at FROM notifications "
                "WHERE template = 'limitation_alert' ORDER BY id"
            )
        ).all()


def _events(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT event_type, dedup_key, payload FROM automation_events ORDER BY id")
        ).all()


def test_a_rerun_at_the_same_moment_changes_and_sends_nothing(
    engine: Engine, settings: Settings
) -> None:
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
            reference_no="ZD3311260012345",
        )
        proceeding(conn, m, "SCN_S73", date(2026, 10, 21), financial_years=["2022-23"])
    first = run_job(settings, "limitation-watch", as_of=morning(date(2027, 1, 5)))
    assert first.status == "success"
    assert first.results["datesComputed"] > 0 and first.results["datesChanged"] > 0
    assert first.results["notificationsQueued"] > 0 and first.results["defencesFound"] == 1
    events, queued = _events(engine), _notifications(engine)
    again = run_job(settings, "limitation-watch", as_of=morning(date(2027, 1, 5)))
    assert again.results["datesChanged"] == 0
    assert again.results["notificationsQueued"] == 0
    assert again.results["datesComputed"] == first.results["datesComputed"]
    assert _events(engine) == events and _notifications(engine) == queued


def test_a_changed_communication_date_recomputes_and_is_logged(
    engine: Engine, settings: Settings
) -> None:
    with engine.begin() as conn:
        m = matter(conn)
        pid = proceeding(conn, m, "ORDER_S73", date(2026, 11, 3), tax_cgst=1000)
    run_job(settings, "limitation-watch", as_of=morning(date(2026, 11, 29)))
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE proceedings SET communicated_date = '2026-11-04' WHERE id = :p"),
            {"p": pid},
        )
    outcome = run_job(settings, "limitation-watch", as_of=morning(date(2026, 11, 29)))
    assert outcome.results["dueDatesChanged"] >= 1
    with engine.connect() as conn:
        logged = conn.execute(
            text(
                "SELECT details FROM audit_log WHERE action_type = 'limitation_date_changed' "
                "AND details->>'rule_id' = 'APL01_APPEAL'"
            )
        ).scalar_one()
        assumed = conn.execute(
            text("SELECT assumed FROM limitation_dates WHERE rule_id = 'APL01_APPEAL'")
        ).scalar_one()
    assert (logged["old_due_date"], logged["new_due_date"]) == ("2027-02-03", "2027-02-04")
    assert not assumed


def test_thresholds_fire_once_and_admins_join_from_t_minus_7(
    engine: Engine, settings: Settings
) -> None:
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
            reference_no="ZD3311260012345",
        )
    # T-30 for APL01 (due 04-02-2027): owner and representative, no partner.
    settings = _quiet(settings)
    run_job(settings, "limitation-watch", as_of=morning(date(2027, 1, 5)))
    t30 = [n for n in _notifications(engine) if "APL01_APPEAL" in n.dedup_key]
    assert {n.user_id for n in t30} == {m.owner, m.advocate}
    assert all(":T-30:2027-02-04:" in n.dedup_key for n in t30)
    payload = t30[0].payload
    assert payload["client_name"] == "Kaveri Agro Exports Ltd"
    assert payload["gstin"] == "33AAACK1234F1Z5"
    assert payload["due_date"] == "04-02-2027 (Thu)" and payload["days_left"] == 30
    assert payload["outer_date"] == "04-03-2027 (Thu)"
    # Queued at 07:30 IST: held until 08:00 (quiet hours).
    assert t30[0].next_attempt_at == datetime(2027, 1, 5, 8, 0, tzinfo=IST)
    # Days later, still inside the T-30 band: nothing new.
    run_job(settings, "limitation-watch", as_of=morning(date(2027, 1, 10)))
    assert len([n for n in _notifications(engine) if "APL01_APPEAL" in n.dedup_key]) == 2
    # T-7: the partner is told too.
    run_job(settings, "limitation-watch", as_of=morning(date(2027, 1, 28)))
    t7 = [
        n
        for n in _notifications(engine)
        if ":T-7:" in n.dedup_key and "APL01_APPEAL:" in n.dedup_key
    ]
    assert {n.user_id for n in t7} == {m.owner, m.advocate, m.admin}
    deposit = next(n for n in _notifications(engine) if "APL01_PREDEPOSIT" in n.dedup_key)
    assert deposit.payload["amount"] == "₹1,42,000"
    assert deposit.payload["amounts"] == {"cgst": "₹71,000", "sgst": "₹71,000"}
    # T+1: lapsed, condonable until 04-03-2027, partner always.
    run_job(settings, "limitation-watch", as_of=morning(date(2027, 2, 5)))
    lapsed = [
        e
        for e in _events(engine)
        if e.event_type == "limitation_lapsed" and e.payload["rule_id"] == "APL01_APPEAL"
    ]
    assert len(lapsed) == 1 and lapsed[0].payload["outer_date"] == "2027-03-04"
    run_job(settings, "limitation-watch", as_of=morning(date(2027, 2, 25)))
    closing = [
        e
        for e in _events(engine)
        if e.event_type == "condonation_closing" and e.payload["rule_id"] == "APL01_APPEAL"
    ]
    assert [e.payload["threshold"] for e in closing] == ["outer-7"]


def test_a_defence_and_the_adjournment_cap_are_findings_for_a_lawyer(
    engine: Engine, settings: Settings
) -> None:
    with engine.begin() as conn:
        m = matter(conn)
        pid = proceeding(
            conn, m, "SCN_S73", date(2026, 10, 21), financial_years=["2022-23"], state_code="33"
        )
        for day in (date(2026, 11, 1), date(2026, 11, 10)):
            event(conn, m, pid, "ADJOURNMENT_GRANTED", day, sought_by="taxpayer")
    run_job(settings, "limitation-watch", as_of=morning(date(2026, 11, 29)))
    with engine.begin() as conn:
        event(conn, m, pid, "ADJOURNMENT_GRANTED", date(2026, 11, 20), sought_by="taxpayer")
        status = conn.execute(text("SELECT status FROM proceedings WHERE id = :p"), {"p": pid})
        assert status.scalar_one() == "open"  # never acted on
    run_job(settings, "limitation-watch", as_of=morning(date(2026, 11, 30)))
    kinds = [(e.event_type, e.payload.get("threshold")) for e in _events(engine)]
    assert ("limitation_defence_found", "defence") in kinds
    assert ("adjournment_cap_reached", "warning") in kinds
    assert ("adjournment_cap_reached", "cap") in kinds
    defence = next(
        n
        for n in _notifications(engine)
        if "SCN_LIMITATION_DEFENCE" in n.dedup_key and n.user_id == m.admin
    )
    assert defence.payload["event_type"] == "limitation_defence_found"
    cap = [n for n in _notifications(engine) if ":cap" in n.dedup_key]
    assert {n.user_id for n in cap} == {m.owner, m.advocate, m.admin}


def test_another_practice_is_untouched(engine: Engine, settings: Settings) -> None:
    with engine.begin() as conn:
        mine, theirs = matter(conn), matter(conn)
        proceeding(conn, mine, "ASMT_10", date(2026, 11, 19), communicated_date=date(2026, 11, 20))
        proceeding(
            conn, theirs, "ASMT_10", date(2026, 11, 19), communicated_date=date(2026, 11, 20)
        )
    run_job(
        settings, "limitation-watch", as_of=morning(date(2026, 12, 10)), tenants=(mine.tenant_id,)
    )
    with engine.connect() as conn:
        tenants = conn.execute(text("SELECT DISTINCT tenant_id FROM limitation_dates")).scalars()
        assert set(tenants) == {mine.tenant_id}
        assert set(
            conn.execute(text("SELECT DISTINCT tenant_id FROM notifications")).scalars()
        ) == {mine.tenant_id}


def test_missing_inputs_are_findings_and_counted(engine: Engine, settings: Settings) -> None:
    with engine.begin() as conn:
        m = matter(conn)
        proceeding(conn, m, "ORDER_S73", date(2026, 11, 3))  # no communication date, no amounts
        proceeding(conn, m, "SCN_S73", date(2026, 11, 3))  # no financial year
        proceeding(conn, m, "DRC_01A", date(2026, 11, 3), communicated_date=date(2026, 11, 3))
    outcome = run_job(settings, "limitation-watch", as_of=morning(date(2026, 11, 29)))
    assert outcome.results["inputsMissing"] == 3
    with engine.connect() as conn:
        found = findings.data_missing(conn, [m.tenant_id])
    assert sorted(f.kind for f in found) == ["DRC_01A", "ORDER_S73", "SCN_S73"]
    messages = " ".join(" ".join(f.items) for f in found)
    assert "communication date" in messages and "financial years" in messages
    assert "amounts per tax head" in messages and "reply date" in messages
    assert "Kaveri" not in messages  # ids, never names


def test_digest_items_and_hearings_without_outcome(engine: Engine, settings: Settings) -> None:
    with engine.begin() as conn:
        m = matter(conn)
        proceeding(conn, m, "ASMT_10", date(2026, 11, 19), communicated_date=date(2026, 11, 20))
        proceeding(
            conn,
            m,
            "ORDER_S73",
            date(2026, 9, 1),
            communicated_date=date(2026, 9, 1),
            tax_cgst=1000,
        )
        conn.execute(
            text(
                "INSERT INTO hearings (tenant_id, case_id, hearing_date) "
                "VALUES (:t, :c, '2026-12-10 05:00+00')"
            ),
            {"t": m.tenant_id, "c": m.case_id},
        )
    as_of = morning(date(2026, 12, 14))
    run_job(settings, "limitation-watch", as_of=as_of)
    with engine.connect() as conn:
        items = register.digest_items(conn, [m.tenant_id], as_of)
        stale = findings.hearings_without_outcome(conn, [m.tenant_id], as_of)
    owners = {(i.block, i.rule_id) for i in items if i.user_id == m.owner}
    assert ("next_7_days", "ASMT11_REPLY") in owners  # due 20-12
    assert ("overdue", "APL01_APPEAL") in owners  # due 01-12, condonable until 01-01-2027
    # 20-12-2026 is a Sunday: the digest says to file by Friday 18-12, as the alert does.
    reply = next(i for i in items if i.rule_id == "ASMT11_REPLY")
    assert (reply.due_date, reply.file_by) == (date(2026, 12, 20), date(2026, 12, 18))
    appeal = next(i for i in items if i.rule_id == "APL01_APPEAL")
    assert appeal.file_by is None
    assert len(stale) == 1 and stale[0].subject.startswith("HEARING_OUTCOME_MISSING")


def test_demo_proceedings_show_every_status(engine: Engine, settings: Settings) -> None:
    from gstjobs import demo

    anchor = datetime(2026, 11, 29, 1, 30, tzinfo=IST)
    with engine.begin() as conn:
        summary = demo.load(
            conn, tenants=4, seed=7, tasks_per_tenant=150, anchor=anchor, reset=False
        )
    assert summary.tenants == 4 and summary.proceedings > summary.cases
    outcome = run_job(settings, "limitation-watch", as_of=anchor)
    assert outcome.results["defencesFound"] > 0 and outcome.results["inCondonation"] > 0
    with engine.connect() as conn:
        statuses = set(conn.execute(text("SELECT DISTINCT status FROM limitation_dates")).scalars())
        # The demo's only time-barred SCNs are those its matters mark as such.
        defences = (
            conn.execute(
                text(
                    "SELECT DISTINCT c.title LIKE '%limitation defence%' FROM limitation_dates d"
                    " JOIN cases c ON c.id = d.case_id WHERE d.status = 'defence_found'"
                )
            )
            .scalars()
            .all()
        )
    assert statuses == {"open", "met", "met_late", "lapsed", "not_applicable", "defence_found"}
    assert defences == [True]


def test_a_closed_matter_is_left_alone(engine: Engine, settings: Settings) -> None:
    """Issue 12: once the case is closed, no alerts, no listing, no scanning; reopened, back."""
    with engine.begin() as conn:
        m = matter(conn)
        proceeding(
            conn,
            m,
            "ORDER_S73",
            date(2026, 11, 3),
            communicated_date=date(2026, 11, 4),
            tax_cgst=710000,
        )
    run_job(settings, "limitation-watch", as_of=morning(date(2027, 1, 5)))
    before = len(_notifications(engine))
    assert before > 0
    with engine.begin() as conn:
        conn.execute(text("UPDATE cases SET status = 'Closed' WHERE id = :c"), {"c": m.case_id})
    as_of = morning(date(2027, 1, 28))
    closed = run_job(settings, "limitation-watch", as_of=as_of)
    assert closed.results["proceedingsScanned"] == 0
    assert closed.results["datesComputed"] == 0 and closed.results["datesChanged"] == 0
    assert len(_notifications(engine)) == before
    with engine.connect() as conn:
        assert register.list_dates(conn, [m.tenant_id], as_of) == []
        assert register.digest_items(conn, [m.tenant_id], as_of) == []
    with engine.begin() as conn:
        conn.execute(text("UPDATE cases SET status = 'Active' WHERE id = :c"), {"c": m.case_id})
    reopened = run_job(settings, "limitation-watch", as_of=as_of)
    assert reopened.results["proceedingsScanned"] == 1
    assert len(_notifications(engine)) > before
    with engine.connect() as conn:
        assert register.list_dates(conn, [m.tenant_id], as_of) != []


def test_the_s74_payment_window_states_its_penalty_slab(engine: Engine, settings: Settings) -> None:
    """SCN_PAY_WINDOW's rule data carries the slab per kind: the alert and the list say it."""
    with engine.begin() as conn:
        m = matter(conn)
        proceeding(conn, m, "SCN_S74", date(2026, 11, 16), financial_years=["2021-22"])
    as_of = morning(date(2026, 12, 9))  # due 16-12-2026: T-7
    run_job(settings, "limitation-watch", as_of=as_of)
    (alert, *_) = [n for n in _notifications(engine) if "SCN_PAY_WINDOW:" in n.dedup_key]
    assert alert.payload["slab"] == "penalty 25% of tax (s.74(8))"
    envelope = Envelope(1, "Owner", "Kaveri Law Chambers", "Asia/Kolkata", as_of, "https://x.in")
    text_ = render("limitation_alert", alert.payload, envelope).text
    assert "Within it:   penalty 25% of tax (s.74(8))" in text_
    with engine.connect() as conn:
        (row,) = [
            r
            for r in register.list_dates(conn, [m.tenant_id], as_of)
            if r.rule_id == "SCN_PAY_WINDOW"
        ]
    assert row.as_json()["slab"] == "penalty 25% of tax (s.74(8))"


def test_no_file_by_advice_for_a_working_day_already_past(
    engine: Engine, settings: Settings
) -> None:
    """Due Sun 29-11: on Fri 27-11 'file by 27-11' is advice; on the Sunday it is not."""
    with engine.begin() as conn:
        m = matter(conn)
        proceeding(conn, m, "ASMT_10", date(2026, 10, 30), communicated_date=date(2026, 10, 30))
    envelope = Envelope(1, "Owner", "Kaveri Law Chambers", "Asia/Kolkata", AS_SENT, "https://x.in")
    run_job(settings, "limitation-watch", as_of=morning(date(2026, 11, 27)))
    (friday,) = {n.payload["threshold"]: n for n in _notifications(engine)}.values()
    assert friday.payload["file_by"] == "27-11-2026 (Fri)"
    run_job(settings, "limitation-watch", as_of=morning(date(2026, 11, 29)))
    sunday = [n for n in _notifications(engine) if n.payload["threshold"] == "T-0"]
    assert sunday and "file_by" not in sunday[0].payload
    text_ = render("limitation_alert", sunday[0].payload, envelope).text
    assert "27-11-2026" not in text_
    assert "the GST portal accepts filings and payments on holidays" in text_


def _alerts(engine: Engine, tenant: Any, rule_id: str) -> list[Any]:
    """A rule's alerts to ``tenant``, one row per recipient and channel."""
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT dedup_key, urgency, next_attempt_at, payload ->> 'file_by' AS file_by "
                "FROM notifications WHERE template = 'limitation_alert' AND tenant_id = :t "
                "AND dedup_key LIKE :rule"
            ),
            {"t": tenant, "rule": f"%:{rule_id}:%"},
        ).all()


def _sent(engine: Engine, tenant: Any, rule_id: str) -> list[Any]:
    """A rule's alerts to ``tenant``: how urgent, when due to go, and any file-by day."""
    rows = {(r.urgency, r.next_attempt_at, r.file_by) for r in _alerts(engine, tenant, rule_id)}
    return [SimpleNamespace(urgency=u, next_attempt_at=n, file_by=f) for u, n, f in rows]


def _quiet(settings: Settings) -> Settings:
    """The default quiet hours, 21:00-08:00 (the tests' settings have none)."""
    delivery = dataclasses.replace(settings.delivery, quiet_hours=(time(21, 0), time(8, 0)))
    return dataclasses.replace(settings, delivery=delivery)


def _appeal(conn: Any, m: Any, communicated: date) -> None:
    """An order whose APL-01 appeal falls due three months after ``communicated``."""
    issued = communicated - timedelta(days=1)
    proceeding(conn, m, "ORDER_S73", issued, communicated_date=communicated, tax_cgst=1000)


def _queued(engine: Engine, tenant: Any) -> dict[str, tuple[int, datetime]]:
    """Each APL01_APPEAL alert's threshold and due date, with its urgency and send time."""
    return {
        ":".join(r.dedup_key.split(":")[4:6]): (r.urgency, r.next_attempt_at)
        for r in _alerts(engine, tenant, "APL01_APPEAL")
    }


def _watch(settings: Settings, moment: datetime, m: Any) -> None:
    """limitation-watch at ``moment`` for the practice of matter ``m`` alone."""
    run_job(settings, "limitation-watch", as_of=moment, tenants=(m.tenant_id,))


def test_quiet_hours_hold_an_alert_only_while_that_keeps_its_day(
    engine: Engine, settings: Settings
) -> None:
    """An alert waits for the end of quiet hours (08:00) unless that would pass the day
    to act by: then it goes at once (urgent). Due today or tomorrow, it goes first after
    quiet hours (soon). In each practice's own zone."""
    settings = _quiet(settings)
    with engine.begin() as conn:
        ist, late, london = matter(conn), matter(conn), matter(conn, tz="Europe/London")
        _appeal(conn, ist, date(2026, 11, 4))  # due 04-02-2027
        _appeal(conn, ist, date(2026, 12, 5))  # due 05-03-2027: T-30 on 03-02
        _appeal(conn, late, date(2026, 11, 4))  # due 04-02-2027
        _appeal(conn, london, date(2026, 11, 4))  # due 04-02-2027, London time
    eight = datetime(2027, 2, 4, 8, 0, tzinfo=IST)
    # 22:00 the evening before: tomorrow's date waits for 08:00 on the day, first.
    _watch(settings, datetime(2027, 2, 3, 22, 0, tzinfo=IST), ist)
    assert _queued(engine, ist.tenant_id) == {
        "T-1:2027-02-04": (1, eight),
        "T-30:2027-03-05": (0, eight),
    }
    # 03:00 on the day: 08:00 is still the day.
    _watch(settings, datetime(2027, 2, 4, 3, 0, tzinfo=IST), ist)
    assert _queued(engine, ist.tenant_id)["T-0:2027-02-04"] == (1, eight)
    # 22:00 on the day (a catch-up): 08:00 would be the day after; now, urgent.
    at_ten = datetime(2027, 2, 4, 22, 0, tzinfo=IST)
    _watch(settings, at_ten, late)
    assert _queued(engine, late.tenant_id) == {"T-0:2027-02-04": (2, at_ten)}
    # A date on a Sunday: the practice files by Friday; at 22:00 on Friday, now.
    with engine.begin() as conn:
        sunday = matter(conn)
        proceeding(
            conn, sunday, "ASMT_10", date(2026, 11, 12), communicated_date=date(2026, 11, 13)
        )
    friday = datetime(2026, 12, 11, 22, 0, tzinfo=IST)  # ASMT-11 reply due Sun 13-12
    _watch(settings, friday, sunday)
    reply = _sent(engine, sunday.tenant_id, "ASMT11_REPLY")
    assert [(r.urgency, r.next_attempt_at) for r in reply] == [(2, friday)]
    assert reply[0].file_by.startswith("11-12-2026")
    # A practice's own quiet hours, as delivery applies them: from 18:00 in Los Angeles,
    # the 07:30 IST run is 18:00 on the due day there; holding to 08:00 would pass it.
    with engine.begin() as conn:
        west = matter(conn, tz="America/Los_Angeles")
        _appeal(conn, west, date(2026, 11, 4))  # due 04-02-2027
        conn.execute(
            text(
                "UPDATE tenants SET quiet_hours_start = '18:00', quiet_hours_end = '08:00' "
                "WHERE id = :t"
            ),
            {"t": west.tenant_id},
        )
    six = datetime(2027, 2, 5, 7, 30, tzinfo=IST)
    _watch(settings, six, west)
    assert _queued(engine, west.tenant_id) == {"T-0:2027-02-04": (2, six)}
    # The last day to pay within an SCN's window (an 'info' date) is the practice's too.
    with engine.begin() as conn:
        payer = matter(conn)
        proceeding(conn, payer, "SCN_S73", date(2027, 1, 5), tax_cgst=1000)  # pay by 04-02
    _watch(settings, at_ten, payer)
    paid = _sent(engine, payer.tenant_id, "SCN_PAY_WINDOW")
    assert [(r.urgency, r.next_attempt_at) for r in paid] == [(2, at_ten)]
    # The 07:30 IST run is 02:00 in London: tomorrow's date waits for 08:00 there.
    _watch(settings, datetime(2027, 2, 3, 7, 30, tzinfo=IST), london)
    assert _queued(engine, london.tenant_id) == {
        "T-1:2027-02-04": (1, datetime(2027, 2, 3, 8, 0, tzinfo=ZoneInfo("Europe/London")))
    }


def test_an_alert_names_the_provision_never_the_form_as_its_section(
    engine: Engine, settings: Settings
) -> None:
    """An ASMT-10's reply alert says s.61 (the hearing reminder's table of provisions),
    not "Section: ASMT-10"."""
    with engine.begin() as conn:
        m = matter(conn)
        proceeding(conn, m, "ASMT_10", date(2026, 11, 19), communicated_date=date(2026, 11, 20))
    run_job(settings, "limitation-watch", as_of=morning(date(2026, 12, 13)))  # T-7 of 20-12
    alerts = [n for n in _notifications(engine) if "ASMT11_REPLY" in n.dedup_key]
    assert alerts
    assert {n.payload["section"] for n in alerts} == {"s.61"}
