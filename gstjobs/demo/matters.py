"""One matter: its proceedings chain, hearings, tasks and documents, as rows.

A matter is born of a notice type, and everything else follows from it:

* ASMT-10 scrutiny and DRC-01A intimations: a notice with a reply date, a task chain
  to the reply, no hearing (neither form provides one);
* DRC-01 SCNs under s.73/74 (sometimes after a DRC-01A): a reply in DRC-06, then the
  personal hearing u/s 75(4) before the adjudicating authority of the client's state,
  with taxpayer adjournments (at most three, s.75(5)) recorded as events;
* APL-01: the SCN, the order in DRC-07, the pre-deposit (s.107(6)) before the appeal,
  the appeal open, filed in time, filed in the condonation month (s.107(4)) or lapsed
  while still condonable; hearings before the Appellate Authority of that state;
* GSTAT: the chain up to the order-in-appeal, the second pre-deposit (s.112(8)) before
  APL-05, hearings before that state's GSTAT bench.

The financial year is chosen so that the SCN is in time on its own dates, except
for matters deliberately marked time-barred in their title. Every date is on or
before "now" unless it is a future hearing or a task not yet due; hearings sit on
working days, tasks fall due in office hours.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

from gstjobs.demo import vocabulary as v
from gstjobs.demo.build import Client, MatterBuilder, Row, Team
from gstjobs.demo.calendar import (
    GSTAT_NOTIFIED_BEFORE,
    GSTAT_NOTIFIED_DATE,
    Calendar,
    barred_fy,
    fallback_fy,
    fy_label,
    local_day,
    scn_fy_choices,
)
from gstjobs.limitation.dates import add_months


@dataclass
class Matter:
    """The rows of one matter; ``tasks`` are in chain order (truncate from the end)."""

    case: Row
    proceedings: list[Row]
    events: list[Row]
    hearings: list[Row]
    tasks: list[Row]
    documents: list[Row]


# ------------------------------------------------------------------ by notice type
def _notice(b: MatterBuilder, notice: str) -> tuple[int, str]:
    """ASMT-10 or DRC-01A: a notice, its reply chain, no hearing."""
    rng = b.rng
    issue = b.past_day(3, 75)
    fy = rng.choice(scn_fy_choices(issue, "73", 90) or (fallback_fy(issue),))
    communicated = None if rng.random() < 0.08 else issue + timedelta(days=rng.choice((0, 0, 1, 2)))
    served = communicated or issue
    reply_by = None if rng.random() < 0.1 else served + timedelta(days=30)
    b.open_matter(served + timedelta(days=rng.randint(0, 2)))
    kind = "ASMT_10" if notice == v.ASMT_10 else "DRC_01A"
    pid = b.proceeding(
        kind, issue, communicated=communicated, reply_by=reply_by, fy=fy, authority="Proper officer"
    )
    done = b.chain(
        v.CHAINS[notice],
        local_day(b.opened),
        (reply_by or served + timedelta(days=30)) - timedelta(days=2),
    )
    if done[-1] is not None:
        b.event(pid, "REPLY_FILED", local_day(done[-1]))
    source = "GSTR-2B" if fy >= v.GSTR_2B_FROM_FY else "GSTR-2A"
    return fy, v.TITLES[notice].format(fy=fy_label(fy), source=source)


def _scn(
    b: MatterBuilder, notice: str, issue: date, *, barred: bool, status: str = "open"
) -> tuple[UUID, int, str]:
    """A DRC-01 SCN (s.73 or s.74) issued on ``issue``; the FY is in time unless ``barred``."""
    rng = b.rng
    section = "73" if notice == v.SCN_73 else "74"
    fy = barred_fy(issue, section, 10) if barred else None
    title_suffix = ""
    if fy is None:
        fy = rng.choice(scn_fy_choices(issue, section, 30) or (fallback_fy(issue),))
    else:
        title_suffix = v.TIME_BARRED.format(section=section)
    cgst, sgst, igst, penalty = b.demand()
    parent = None
    if rng.random() < 0.4:
        pre = b.cal.on_or_before(issue - timedelta(days=rng.randint(30, 60)), b.state)
        parent = b.proceeding(
            "DRC_01A",
            pre,
            communicated=pre,
            reply_by=pre + timedelta(days=30),
            fy=fy,
            amounts=(cgst, sgst, igst, None),
            status="superseded",
            authority="Proper officer",
        )
    pid = b.proceeding(
        "SCN_S73" if section == "73" else "SCN_S74",
        issue,
        parent=parent,
        communicated=issue + timedelta(days=rng.choice((0, 1))),
        reply_by=issue + timedelta(days=30) if rng.random() < 0.75 else None,
        fy=fy,
        amounts=(cgst, sgst, igst, penalty),
        authority=f"Deputy Commissioner of State Tax (Adjudication), {_city(b.state)}",
        status=status,
    )
    return pid, fy, title_suffix


def _show_cause(b: MatterBuilder, notice: str) -> tuple[int, str]:
    rng = b.rng
    issue = b.past_day(5, 110)
    b.open_matter(issue + timedelta(days=rng.randint(0, 3)))
    pid, fy, suffix = _scn(b, notice, issue, barred=rng.random() < 0.2)
    reply_day = issue + timedelta(days=30)
    done = b.chain(v.CHAINS[notice], local_day(b.opened), reply_day - timedelta(days=2))
    if done[-1] is not None:
        b.event(pid, "REPLY_FILED", local_day(done[-1]))
    # The personal hearing is fixed after the reply is due (s.75(4)).
    b.hearings_from(
        reply_day + timedelta(days=rng.randint(7, 30)), v.ADJUDICATING, pid, b.team.advocate
    )
    return fy, v.TITLES[notice].format(fy=fy_label(fy)) + suffix


def _first_appeal(b: MatterBuilder) -> tuple[int, str]:
    """APL-01 against a DRC-07 order: open, filed in time, filed in the condonation
    month, or lapsed and still condonable."""
    rng = b.rng
    outcome = rng.choices(("open", "filed", "late", "lapsed"), (35, 40, 12, 13))[0]
    age = {"open": (5, 80), "filed": (40, 400), "late": (100, 118), "lapsed": (95, 118)}[outcome]
    order_day = b.past_day(*age)
    communicated = (
        None if rng.random() < 0.06 else order_day + timedelta(days=rng.choice((0, 1, 2)))
    )
    served = communicated or order_day
    due = add_months(served, 3)
    outer = add_months(due, 1)
    b.open_matter(served + timedelta(days=rng.randint(0, 3)))
    scn_day = b.cal.on_or_before(order_day - timedelta(days=rng.randint(90, 300)), b.state)
    notice = rng.choice((v.SCN_73, v.SCN_74))
    scn, fy, _ = _scn(b, notice, scn_day, barred=False, status="concluded")
    cgst, sgst, igst, penalty = b.demand()
    order = b.proceeding(
        "ORDER_S73" if notice == v.SCN_73 else "ORDER_S74",
        order_day,
        parent=scn,
        communicated=communicated,
        fy=fy,
        amounts=(cgst, sgst, igst, penalty),
        authority=f"Deputy Commissioner of State Tax (Adjudication), {_city(b.state)}",
    )
    filed: date | None = None
    if outcome == "filed":
        filed = b.cal.on_or_before(due - timedelta(days=rng.randint(3, 40)), b.state)
        filed = max(filed, b.cal.on_or_after(served + timedelta(days=10), b.state))
    elif outcome == "late":
        filed = b.cal.on_or_after(due + timedelta(days=rng.randint(2, 12)), b.state)
    if filed is not None and (filed >= b.today or filed > outer):
        filed = None  # not yet: the appeal is still open
    steps = v.CHAINS[v.APL_01]
    forced: list[date | None] | None = None
    if filed is not None:
        paid = b.cal.before(filed, b.state)
        copy_day = min(served + timedelta(days=rng.randint(2, 6)), b.cal.before(paid, b.state))
        forced = [copy_day, paid, filed]
    b.chain(steps, local_day(b.opened), due - timedelta(days=5), forced, last_undone=filed is None)
    if filed is not None:
        assert forced is not None and forced[1] is not None
        deposit = ((cgst or 0) + (sgst or 0) + (igst or 0)) // 10
        b.event(order, "PRE_DEPOSIT_PAID", forced[1], amount=deposit)
        b.event(order, "APPEAL_FILED", filed)
        appeal = b.proceeding(
            "APL_01_FILED",
            filed,
            parent=order,
            issued_by="taxpayer",
            communicated=filed,
            fy=fy,
            authority=f"Joint Commissioner of State Tax (Appeals), {_city(b.state)}",
            prefix="AD",
        )
        if outcome == "late":
            b.event(order, "CONDONATION_SOUGHT", filed)
        b.hearings_from(
            filed + timedelta(days=rng.randint(30, 120)), v.APPELLATE, appeal, b.team.advocate
        )
    elif outcome == "lapsed" and not b.closing:
        b.chain(
            (v.CONDONATION_STEP,),
            max(local_day(b.opened), due),
            outer - timedelta(days=3),
            last_undone=True,
        )
    return fy, v.TITLES[v.APL_01].format(fy=fy_label(fy))


def _second_appeal(b: MatterBuilder) -> tuple[int, str]:
    """APL-05 to the GSTAT against an order-in-appeal (APL-04)."""
    rng = b.rng
    outcome = rng.choices(("open", "filed", "early"), (35, 45, 20))[0]
    age = {"open": (5, 80), "filed": (40, 300), "early": (240, 420)}[outcome]
    oia_day = b.past_day(*age)
    communicated = oia_day + timedelta(days=rng.choice((0, 1, 2)))
    due = add_months(communicated, 3)
    if communicated < GSTAT_NOTIFIED_BEFORE:
        due = max(due, GSTAT_NOTIFIED_DATE)
    appeal_day = b.cal.on_or_before(oia_day - timedelta(days=rng.randint(120, 300)), b.state)
    order_day = b.cal.on_or_before(appeal_day - timedelta(days=rng.randint(20, 80)), b.state)
    scn_day = b.cal.on_or_before(order_day - timedelta(days=rng.randint(90, 300)), b.state)
    b.open_matter(order_day + timedelta(days=rng.randint(1, 4)))
    notice = rng.choice((v.SCN_73, v.SCN_74))
    scn, fy, _ = _scn(b, notice, scn_day, barred=False, status="concluded")
    cgst, sgst, igst, penalty = b.demand()
    city = _city(b.state)
    order = b.proceeding(
        "ORDER_S73" if notice == v.SCN_73 else "ORDER_S74",
        order_day,
        parent=scn,
        communicated=order_day + timedelta(days=1),
        fy=fy,
        amounts=(cgst, sgst, igst, penalty),
        status="concluded",
        authority=f"Deputy Commissioner of State Tax (Adjudication), {city}",
    )
    first = b.proceeding(
        "APL_01_FILED",
        appeal_day,
        parent=order,
        issued_by="taxpayer",
        communicated=appeal_day,
        fy=fy,
        status="concluded",
        authority=f"Joint Commissioner of State Tax (Appeals), {city}",
        prefix="AD",
    )
    oia = b.proceeding(
        "ORDER_IN_APPEAL",
        oia_day,
        parent=first,
        issued_by="forum",
        communicated=communicated,
        fy=fy,
        amounts=(cgst, sgst, igst, penalty),
        authority=f"Joint Commissioner of State Tax (Appeals), {city}",
    )
    filed: date | None = None
    # A few appeals are not filed yet, none beyond condonation (s.112(6): 3 months
    # more): such a matter would be closed, not an open task months overdue.
    late_unfiled = outcome == "filed" and rng.random() < 0.15 and add_months(due, 3) >= b.today
    if outcome == "early" or (outcome == "filed" and not late_unfiled):
        filed = b.cal.on_or_before(due - timedelta(days=rng.randint(3, 30)), b.state)
        filed = max(filed, b.cal.on_or_after(communicated + timedelta(days=10), b.state))
        if filed >= b.today:
            filed = None
    # The practice's tasks start from the order-in-appeal.
    start = max(local_day(b.opened), communicated)
    forced: list[date | None] | None = None
    if filed is not None:
        paid = b.cal.before(filed, b.state)
        forced = [min(communicated + timedelta(days=3), b.cal.before(paid, b.state)), paid, filed]
    b.chain(v.CHAINS[v.APL_05], start, due - timedelta(days=5), forced, last_undone=filed is None)
    if filed is not None:
        assert forced is not None and forced[1] is not None
        deposit = ((cgst or 0) + (sgst or 0) + (igst or 0)) // 10
        b.event(oia, "PRE_DEPOSIT_PAID", forced[1], amount=deposit)
        b.event(oia, "APPEAL_FILED", filed)
        appeal = b.proceeding(
            "APL_05_FILED",
            filed,
            parent=oia,
            issued_by="taxpayer",
            communicated=filed,
            fy=fy,
            authority=f"GST Appellate Tribunal, {_state_name(b.state)} State Bench",
            prefix="AD",
        )
        representative = b.team.partner if rng.random() < 0.5 else b.team.advocate
        b.hearings_from(
            filed + timedelta(days=rng.randint(45, 150)), v.GSTAT, appeal, representative
        )
    return fy, v.TITLES[v.APL_05].format(fy=fy_label(fy))


_STATES = {s.code: s for s in v.STATES}


def _city(state: str) -> str:
    return _STATES[state].city


def _state_name(state: str) -> str:
    return _STATES[state].name


def matter(
    rng: random.Random,
    cal: Calendar,
    now: datetime,
    tenant_id: UUID,
    number: str,
    client: Client,
    team: Team,
    *,
    closed_at: datetime | None = None,
) -> Matter:
    """One matter of a notice type drawn from the vocabulary's weights.

    A closed matter is generated as it stood on ``closed_at`` (before now): its
    proceedings concluded, no hearing left to come, unfinished tasks cancelled."""
    notice = rng.choices(v.NOTICE_TYPES, v.NOTICE_WEIGHTS)[0]
    b = MatterBuilder(
        rng, cal, closed_at or now, tenant_id, client, team, closing=closed_at is not None
    )
    if notice in (v.ASMT_10, v.DRC_01A):
        fy, title = _notice(b, notice)
    elif notice in (v.SCN_73, v.SCN_74):
        fy, title = _show_cause(b, notice)
    elif notice == v.APL_01:
        fy, title = _first_appeal(b)
    else:
        fy, title = _second_appeal(b)
    case = (
        b.case_id,
        tenant_id,
        f"{notice.split()[0]}/{fy_label(fy)}/{number}",
        title,
        "Closed" if closed_at else "Active",
        team.owner,
        team.advocate,
        client.id,
        notice,
        b.opened,
        closed_at,
    )
    return Matter(case, b.proceedings, b.events, b.hearings, b.tasks, b.documents)
