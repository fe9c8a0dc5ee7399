"""Practices as rows: pure functions of a seeded ``random.Random`` and "now".

``practice`` returns every row of one practice (tenant, people, clients, matters,
rules); the loader streams them to PostgreSQL. Nothing here touches a database or
the clock, so the same seed and moment give the same rows and tests can call it
directly.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from uuid import UUID

from gstjobs.demo import vocabulary as v
from gstjobs.demo.build import Client, Row, Team, uid
from gstjobs.demo.calendar import Calendar, at, local_day
from gstjobs.demo.identity import gstin_for, pan
from gstjobs.demo.matters import matter

# Table -> columns, in the order rows carry them (and the loader's load order).
COLUMNS: dict[str, tuple[str, ...]] = {
    "tenants": ("id", "name", "timezone", "created_at"),
    "users": (
        "id",
        "tenant_id",
        "full_name",
        "email",
        "phone",
        "role",
        "whatsapp_opt_in",
        "is_active",
        "created_at",
    ),
    "clients": ("id", "tenant_id", "name", "gstin", "created_at"),
    "sla_policies": ("tenant_id", "priority", "resolution_hours"),
    "cases": (
        "id",
        "tenant_id",
        "case_number",
        "title",
        "status",
        "owner_id",
        "assigned_to",
        "client_id",
        "notice_type",
        "created_at",
        "closed_at",
    ),
    "proceedings": (
        "id",
        "tenant_id",
        "case_id",
        "parent_id",
        "kind",
        "issued_by",
        "authority",
        "jurisdiction",
        "reference_no",
        "issue_date",
        "communicated_date",
        "reply_by_date",
        "financial_years",
        "fraud_alleged",
        "gstin",
        "state_code",
        "tax_cgst",
        "tax_sgst",
        "tax_igst",
        "penalty",
        "admitted_tax",
        "representative_id",
        "status",
        "created_at",
    ),
    "proceeding_events": (
        "id",
        "tenant_id",
        "proceeding_id",
        "kind",
        "event_date",
        "sought_by",
        "amount",
    ),
    "hearings": (
        "id",
        "tenant_id",
        "case_id",
        "court_id",
        "hearing_date",
        "status",
        "purpose",
        "created_at",
        "representative_id",
        "proceeding_id",
    ),
    "tasks": (
        "id",
        "tenant_id",
        "case_id",
        "title",
        "priority",
        "status",
        "assigned_to",
        "due_date",
        "created_at",
        "completed_at",
        "started_at",
    ),
    "documents": ("id", "tenant_id", "case_id", "file_name", "uploaded_at"),
    "automation_rules": (
        "id",
        "tenant_id",
        "name",
        "trigger_event",
        "conditions",
        "actions",
        "is_active",
    ),
}
Rows = dict[str, list[Row]]

CLOSED_SHARE = 0.1  # matters closed before now
PRACTICE_TASK_SHARE = 20  # one task in this many is the practice's own, not a matter's
_RULES_JSON = tuple((n, t, json.dumps(c), json.dumps(a)) for n, t, c, a in v.DEMO_RULES)


def empty_rows() -> Rows:
    return {table: [] for table in COLUMNS}


def client_name(rng: random.Random, entity: v.EntityType) -> tuple[str, str]:
    """A client's name and the letter its PAN's 5th character must carry."""
    given, surname = rng.choice(v.GIVEN), rng.choice(v.SURNAMES)
    stem = rng.choice(v.CLIENT_STEMS)
    if entity.pan_letter == "P":
        return f"{stem} (Prop. {given} {surname})", surname[0]
    if entity.pan_letter == "H":
        return f"{given} {surname} HUF", given[0]  # an HUF's name, not a surname
    return f"{stem} {rng.choice(entity.suffixes)}", stem[0]


def client(rng: random.Random, tenant_id: UUID, created: datetime) -> tuple[Client, Row]:
    entity = rng.choices(v.ENTITY_TYPES, v.ENTITY_WEIGHTS)[0]
    name, initial = client_name(rng, entity)
    state = rng.choice(v.STATES).code
    number = rng.choices((1, 2, 3), (85, 10, 5))[0]
    gstin = gstin_for(state, pan(rng, entity.pan_letter, initial), number)
    made = Client(uid(rng), name, gstin, state)
    return made, (made.id, tenant_id, name, gstin, created)


def practice(
    rng: random.Random,
    now: datetime,
    index: int,
    tenant_id: UUID,
    tasks_per_tenant: int,
    cal: Calendar,
) -> Rows:
    """Every row of practice number ``index``: exactly ``tasks_per_tenant`` tasks."""
    rows = empty_rows()
    founded = now - timedelta(days=3 * 365)
    a, b = rng.sample(v.SURNAMES, 2)
    firm = (
        f"{a} {rng.choice(v.FIRM_KINDS)}" if index % 2 else f"{a} & {b} {rng.choice(v.FIRM_KINDS)}"
    )
    # Under the reserved .example TLD (RFC 2606): no demo address can ever be delivered.
    domain = f"{a.lower()}{index}.example"
    rows["tenants"].append((tenant_id, firm, v.TIMEZONE, founded))

    people: dict[str, list[UUID]] = {"admin": [], "advocate": [], "staff": []}
    for role, count in (("admin", 1), ("advocate", 3), ("staff", 2)):
        for _ in range(count):
            user_id = uid(rng)
            first, last = rng.choice(v.GIVEN), rng.choice(v.SURNAMES)
            phone = f"+919{rng.randrange(10**8, 10**9)}"
            rng.random()  # the opt-in draw of earlier versions: every later row unchanged
            rows["users"].append(
                (
                    user_id,
                    tenant_id,
                    f"{first} {last}",
                    f"{first.lower()}.{last.lower()}@{domain}",
                    phone,
                    role,
                    # Never opted in to WhatsApp: a demo number looks like a real mobile,
                    # and must never be messaged whatever channel is configured.
                    False,
                    True,
                    founded,
                )
            )
            people[role].append(user_id)
    partner = people["admin"][0]
    seniors = people["admin"] + people["advocate"][:1]
    staff = tuple(people["staff"])

    if index % 2 == 0:
        rows["sla_policies"].extend((tenant_id, p, h) for p, h in v.SLA_HOURS)
    rows["automation_rules"].extend(
        (uid(rng), tenant_id, n, t, c, a_, True) for n, t, c, a_ in _RULES_JSON
    )

    clients = [client(rng, tenant_id, founded) for _ in range(max(1, tasks_per_tenant // 8))]
    rows["clients"].extend(row for _, row in clients)

    own = tasks_per_tenant // PRACTICE_TASK_SHARE
    left = tasks_per_tenant - own
    today = local_day(now)
    n = 0
    while left > 0:
        team = Team(rng.choice(seniors), rng.choice(people["advocate"]), staff, partner)
        closed_at = None
        if rng.random() < CLOSED_SHARE:
            day = cal.on_or_before(today - timedelta(days=rng.randint(5, 60)), "")
            closed_at = min(at(day, rng.randint(11, 17)), now - timedelta(hours=1))
        m = matter(
            rng,
            cal,
            now,
            tenant_id,
            f"{index:03d}{n:05d}",
            rng.choice(clients)[0],
            team,
            closed_at=closed_at,
        )
        n += 1
        tasks = m.tasks[:left]
        left -= len(tasks)
        rows["cases"].append(m.case)
        rows["proceedings"].extend(m.proceedings)
        rows["proceeding_events"].extend(m.events)
        rows["hearings"].extend(m.hearings)
        rows["tasks"].extend(tasks)
        rows["documents"].extend(m.documents)
    for _ in range(own):
        rows["tasks"].append(_practice_task(rng, cal, now, tenant_id, staff))
    return rows


def _practice_task(
    rng: random.Random, cal: Calendar, now: datetime, tenant_id: UUID, staff: tuple[UUID, ...]
) -> Row:
    """A task of the practice itself (no matter), due in office hours."""
    title, priority, _ = rng.choice(v.PRACTICE_TASKS)
    day = cal.on_or_after(local_day(now) + timedelta(days=rng.randint(-10, 20)), "")
    due = at(day, rng.randint(11, 17))
    created = min(due - timedelta(days=rng.randint(2, 10)), now - timedelta(hours=1))
    done = None
    status = "Pending"
    if due <= now and rng.random() < 0.8:
        done = min(due - timedelta(hours=rng.randint(1, 30)), now - timedelta(minutes=30))
        done = max(done, created + timedelta(minutes=30))
        status = "Completed"
    started = created + (done - created) / 2 if done else None
    return (
        uid(rng),
        tenant_id,
        None,
        title,
        priority,
        status,
        rng.choice(staff),
        due,
        created,
        done,
        started,
    )
