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
from typing import Any
from uuid import UUID

from gstjobs.demo import vocabulary as v
from gstjobs.demo.calendar import (
    CLOSES,
    GSTAT_NOTIFIED_BEFORE,
    GSTAT_NOTIFIED_DATE,
    Calendar,
    at,
    barred_fy,
    fy_label,
    fy_of,
    local_day,
    scn_fy_choices,
)
from gstjobs.demo.ids import court_id
from gstjobs.limitation.dates import add_months

Row = tuple[Any, ...]
_HOUR = timedelta(hours=1)
HEARING_HORIZON = timedelta(days=45)  # hearings are fixed at most this far ahead


@dataclass(frozen=True)
class Client:
    id: UUID
    name: str
    gstin: str
    state: str


@dataclass(frozen=True)
class Team:
    """Who works a matter: the owner (a partner or senior advocate), the assigned
    advocate, and the clerks."""

    owner: UUID
    advocate: UUID
    staff: tuple[UUID, ...]
    partner: UUID


@dataclass
class Matter:
    """The rows of one matter; ``tasks`` are in chain order (truncate from the end)."""

    case: Row
    proceedings: list[Row]
    events: list[Row]
    hearings: list[Row]
    tasks: list[Row]
    documents: list[Row]


def uid(rng: random.Random) -> UUID:
    return UUID(int=rng.getrandbits(128), version=4)


class _Build:
    """Accumulates one matter's rows; every choice comes from ``rng``."""

    def __init__(
        self,
        rng: random.Random,
        cal: Calendar,
        now: datetime,
        tenant_id: UUID,
        client: Client,
        team: Team,
        closing: bool,
    ) -> None:
        self.rng = rng
        self.cal = cal
        self.now = now
        self.today = local_day(now)
        self.tenant_id = tenant_id
        self.client = client
        self.team = team
        self.closing = closing
        self.state = client.state
        self.case_id = uid(rng)
        self.opened: datetime = now
        self.proceedings: list[Row] = []
        self.events: list[Row] = []
        self.hearings: list[Row] = []
        self.tasks: list[Row] = []
        self.documents: list[Row] = []

    # ------------------------------------------------------------------ dates
    def past_day(self, low: int, high: int) -> date:
        """A working day ``low``..``high`` days before today (never after today)."""
        return self.cal.on_or_before(
            self.today - timedelta(days=self.rng.randint(low, high)), self.state
        )

    def open_matter(self, day: date) -> None:
        """The practice opened the matter on ``day`` (or today, if that is later)."""
        day = min(self.cal.on_or_after(day, self.state), self.today)
        moment = at(day, self.rng.randint(10, 16), self.rng.choice((0, 30)))
        self.opened = min(moment, self.now - _HOUR)

    def office_time(self, day: date, hour: int | None = None) -> datetime:
        return at(day, hour if hour is not None else self.rng.randint(11, CLOSES - 1))

    # ------------------------------------------------------------- proceedings
    def proceeding(
        self,
        kind: str,
        issue: date,
        *,
        parent: UUID | None = None,
        issued_by: str = "department",
        authority: str = "",
        communicated: date | None = None,
        reply_by: date | None = None,
        fy: int | None = None,
        amounts: tuple[int | None, int | None, int | None, int | None] = (None,) * 4,
        status: str = "open",
        prefix: str = "ZD",
    ) -> UUID:
        rng = self.rng
        pid = uid(rng)
        reference = (
            f"{prefix}{self.state}{issue.month:02d}{issue.year % 100:02d}{rng.randrange(10**7):07d}"
        )
        cgst, sgst, igst, penalty = amounts
        self.proceedings.append(
            (
                pid,
                self.tenant_id,
                self.case_id,
                parent,
                kind,
                issued_by,
                authority,
                "SGST",
                reference,
                issue,
                communicated,
                reply_by,
                [fy_label(fy)] if fy is not None else [],
                kind in ("SCN_S74", "ORDER_S74"),
                self.client.gstin,
                self.state,
                cgst,
                sgst,
                igst,
                penalty,
                0,
                self.team.advocate,
                "concluded" if self.closing else status,
                min(max(self.opened, at(communicated or issue, 11)), self.now),
            )
        )
        self.documents.append(
            (
                uid(rng),
                self.tenant_id,
                self.case_id,
                f"{_FORM_OF.get(kind, kind)} {reference}.pdf",
                min(max(self.opened, at(communicated or issue, 12)), self.now),
            )
        )
        return pid

    def event(
        self, pid: UUID, kind: str, day: date, *, by: str | None = None, amount: int | None = None
    ) -> None:
        self.events.append((uid(self.rng), self.tenant_id, pid, kind, day, by, amount))

    def demand(self) -> tuple[int, int | None, int | None, int]:
        """Tax in dispute (CGST, SGST, IGST) and penalty, in rupees."""
        tax = self.rng.choice((2, 4, 7, 12, 18, 35, 60, 140)) * 50_000
        if self.rng.random() < 0.25:
            return 0, None, tax, tax // 10  # inter-state supplies: IGST only
        return tax // 2, tax // 2, None, tax // 10

    # --------------------------------------------------------------- hearings
    def hearings_from(self, start: date, forum: str, pid: UUID, representative: UUID) -> None:
        """Hearings before ``forum`` of the client's state, the first on or after
        ``start``: taxpayer adjournments (at most three, s.75(5)) then one more date,
        held or still to come. None is fixed beyond the horizon."""
        rng, cal = self.rng, self.cal
        court = court_id(self.state, forum)
        adjournments = rng.choices((0, 1, 2, 3), (50, 25, 15, 10))[0]
        day = cal.on_or_after(start, self.state)
        created = max(
            self.opened, min(at(day - timedelta(days=rng.randint(10, 25)), 12), self.now - _HOUR)
        )
        for n in range(adjournments + 1):
            when = at(day, rng.choice((10, 11, 12, 14, 15, 16)), rng.choice((0, 30)))
            if when > self.now + HEARING_HORIZON or (self.closing and when > self.now):
                return
            if when > self.now:
                status = "Scheduled"
            elif n < adjournments:
                status = "Adjourned"
            elif self.closing or rng.random() < 0.92:
                status = "Attended"
            else:
                status = "Scheduled"  # held, outcome never recorded: health-report chases it
            purpose = v.HEARING_PURPOSES[forum]
            if n:
                purpose = f"{purpose} (after adjournment)"
            self.hearings.append(
                (
                    uid(rng),
                    self.tenant_id,
                    self.case_id,
                    court,
                    when,
                    status,
                    purpose,
                    created,
                    representative,
                    pid,
                )
            )
            self.brief(v.BRIEF_TITLES[forum], when, created)
            if status == "Adjourned":
                self.event(pid, "ADJOURNMENT_GRANTED", day, by="taxpayer")
            elif status == "Attended" and forum == v.ADJUDICATING:
                self.event(pid, "PH_HELD", day)
            if status != "Adjourned":
                return
            created = min(when + _HOUR, self.now)
            day = cal.on_or_after(day + timedelta(days=rng.randint(14, 28)), self.state)

    def brief(self, title: str, hearing: datetime, created: datetime) -> None:
        """The brief is due at 17:00 on the working day before the hearing."""
        due = at(self.cal.before(local_day(hearing), self.state), 17)
        created = min(created, due - timedelta(hours=20))
        done = None
        if due <= self.now or self.rng.random() < 0.15:
            done = min(due - timedelta(hours=self.rng.randint(1, 6)), self.now - _HOUR)
            done = max(done, created + _HOUR)
        self.task(title, "High", self.team.advocate, due, created, done)

    # ------------------------------------------------------------------ tasks
    def chain(
        self,
        steps: tuple[v.Step, ...],
        first: date,
        last: date,
        done: list[date | None] | None = None,
        *,
        last_undone: bool = False,
    ) -> list[datetime | None]:
        """Tasks for ``steps`` due on working days after ``first``, the last on or
        before ``last``, in order. ``done`` forces completion days; otherwise a step is
        done only if the one before it is (a reply is not filed before it is drafted).
        ``last_undone`` keeps the last step open (an appeal not filed)."""
        rng = self.rng
        days = self.cal.spread(first, last, len(steps), self.state)
        finished: list[datetime | None] = []
        previous: datetime | None = self.opened
        for i, ((title, priority, who), day) in enumerate(zip(steps, days, strict=True)):
            due = at(day, 17 if priority == "Critical" else rng.randint(11, 17))
            if done is not None:
                when = done[i]
                at_ = None if when is None else max(self.office_time(when), self.opened + _HOUR)
            elif previous is None or (last_undone and i == len(steps) - 1):
                at_ = None
            elif due <= self.now:
                at_ = due - timedelta(hours=rng.randint(2, 60)) if rng.random() < 0.85 else None
            else:
                at_ = due - timedelta(hours=rng.randint(24, 200)) if rng.random() < 0.3 else None
            if at_ is not None:
                at_ = min(max(at_, (previous or self.opened) + _HOUR), self.now - _HOUR)
                if at_ <= self.opened:
                    at_ = None
            assignee = self.team.advocate if who == "advocate" else rng.choice(self.team.staff)
            self.task(title, priority, assignee, due, self.opened, at_)
            finished.append(at_)
            previous = at_
        return finished

    def task(
        self,
        title: str,
        priority: str,
        assignee: UUID,
        due: datetime,
        created: datetime,
        done: datetime | None,
    ) -> None:
        rng = self.rng
        started = None
        if done is not None:
            status = "Completed"
            started = created + (done - created) * rng.uniform(0.05, 0.6)
        elif self.closing:
            status = "Cancelled"
        elif rng.random() < 0.45 and created < self.now - _HOUR:
            status = "In Progress"
            started = created + (self.now - created) * rng.uniform(0.05, 0.9)
        else:
            status = "Pending"
        self.tasks.append(
            (
                uid(rng),
                self.tenant_id,
                self.case_id,
                title,
                priority,
                status,
                assignee,
                due,
                created,
                done,
                started,
            )
        )


_FORM_OF = {
    "ASMT_10": "ASMT-10",
    "DRC_01A": "DRC-01A",
    "SCN_S73": "DRC-01",
    "SCN_S74": "DRC-01",
    "ORDER_S73": "DRC-07",
    "ORDER_S74": "DRC-07",
    "APL_01_FILED": "APL-01",
    "ORDER_IN_APPEAL": "APL-04",
    "APL_05_FILED": "APL-05",
}


# ------------------------------------------------------------------ by notice type
def _notice(b: _Build, notice: str) -> tuple[int, str]:
    """ASMT-10 or DRC-01A: a notice, its reply chain, no hearing."""
    rng = b.rng
    issue = b.past_day(3, 75)
    fy = rng.choice(scn_fy_choices(issue, "73", 90) or (fy_of(issue) - 1,))
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
    b: _Build, notice: str, issue: date, *, barred: bool, status: str = "open"
) -> tuple[UUID, int, str]:
    """A DRC-01 SCN (s.73 or s.74) issued on ``issue``; the FY is in time unless ``barred``."""
    rng = b.rng
    section = "73" if notice == v.SCN_73 else "74"
    fy = barred_fy(issue, section, 10) if barred else None
    title_suffix = ""
    if fy is None:
        fy = rng.choice(scn_fy_choices(issue, section, 30) or (fy_of(issue) - 1,))
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


def _show_cause(b: _Build, notice: str) -> tuple[int, str]:
    rng = b.rng
    issue = b.past_day(5, 110)
    b.open_matter(issue + timedelta(days=rng.randint(0, 3)))
    pid, fy, suffix = _scn(b, notice, issue, barred=rng.random() < 0.12)
    reply_day = issue + timedelta(days=30)
    done = b.chain(v.CHAINS[notice], local_day(b.opened), reply_day - timedelta(days=2))
    if done[-1] is not None:
        b.event(pid, "REPLY_FILED", local_day(done[-1]))
    # The personal hearing is fixed after the reply is due (s.75(4)).
    b.hearings_from(
        reply_day + timedelta(days=rng.randint(7, 30)), v.ADJUDICATING, pid, b.team.advocate
    )
    return fy, v.TITLES[notice].format(fy=fy_label(fy)) + suffix


def _first_appeal(b: _Build) -> tuple[int, str]:
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


def _second_appeal(b: _Build) -> tuple[int, str]:
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
    if outcome in ("filed", "early") and rng.random() < 0.85:
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
    b = _Build(rng, cal, closed_at or now, tenant_id, client, team, closing=closed_at is not None)
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
