"""Building one matter's rows: dates in office hours, proceedings, hearings, task chains.

``MatterBuilder`` holds the rows of one matter while the functions of ``matters`` (one
per notice type) decide what happened; every choice comes from the seeded generator.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from gstjobs.demo import vocabulary as v
from gstjobs.demo.calendar import CLOSES, Calendar, at, fy_label, local_day
from gstjobs.demo.ids import court_id

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


def uid(rng: random.Random) -> UUID:
    return UUID(int=rng.getrandbits(128), version=4)


class MatterBuilder:
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
        self.triage()

    def triage(self) -> None:
        """First action on a new matter: no due date, so the SLA (time to first action)
        judges it. Most are done within a working day; a recent few are still untouched."""
        rng = self.rng
        title, priority, _ = v.TRIAGE_STEP
        done = None
        if rng.random() < (0.9 if self.opened < self.now - timedelta(days=3) else 0.4):
            done = min(self.opened + timedelta(hours=rng.randint(1, 30)), self.now - _HOUR / 2)
            done = done if done > self.opened else None
        self.task(title, priority, self.team.advocate, None, self.opened, done)

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
        due: datetime | None,
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
