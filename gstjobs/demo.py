"""A deterministic, realistic GST litigation data set, bulk-loaded with COPY.

Practices (tenants) with admins, advocates and staff; clients with well-formed
GSTINs; cases born of ASMT-10 scrutiny notices, DRC-01A intimations, DRC-01
show-cause notices under s.73/74, first appeals (APL-01) and GSTAT appeals;
hearings before real forums; tasks whose due dates are spread around the anchor
moment so that every job finds work. The same seed and anchor give the same rows.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from psycopg import Connection as PgConnection
from sqlalchemy import Connection, text

from gstjobs.core import SILENT, Progress
from gstjobs.errors import UsageError

TENANTS_PER_CHUNK = 20
DEMO_NAMESPACE = uuid.UUID("6f0c1d2e-3b4a-5c6d-8e9f-0a1b2c3d4e5f")
TIMEZONE = "Asia/Kolkata"

COURTS = (
    ("GST Appellate Tribunal, Principal Bench", "New Delhi"),
    ("GST Appellate Tribunal, State Bench", "Ahmedabad"),
    ("GST Appellate Tribunal, State Bench", "Mumbai"),
    ("GST Appellate Tribunal, State Bench", "Bengaluru"),
    ("Joint Commissioner (Appeals), CGST", "Mumbai"),
    ("Commissioner (Appeals), CGST & Central Excise", "Pune"),
    ("Additional Commissioner (Appeals), State Tax", "Chennai"),
    ("Deputy Commissioner of State Tax, Ward 14", "Ahmedabad"),
    ("Assistant Commissioner, CGST Division III", "Hyderabad"),
    ("Superintendent of Central Tax, Range IV", "Kolkata"),
    ("High Court of Gujarat", "Ahmedabad"),
    ("High Court of Judicature at Bombay", "Mumbai"),
)
SURNAMES = (
    "Mehta",
    "Iyer",
    "Kapoor",
    "Desai",
    "Rao",
    "Shah",
    "Menon",
    "Agarwal",
    "Reddy",
    "Banerjee",
    "Kulkarni",
    "Nair",
    "Joshi",
    "Chatterjee",
    "Pillai",
    "Gupta",
    "Bhat",
    "Sinha",
    "Patel",
    "Malhotra",
    "Khanna",
    "Trivedi",
    "Hegde",
    "Saxena",
)
GIVEN = (
    "Aarav",
    "Priya",
    "Rohan",
    "Ananya",
    "Vikram",
    "Meera",
    "Arjun",
    "Kavya",
    "Siddharth",
    "Neha",
    "Rahul",
    "Divya",
    "Karthik",
    "Pooja",
    "Aditya",
    "Sneha",
    "Nikhil",
    "Shruti",
)
FIRM_KINDS = (
    "& Associates, Chartered Accountants",
    "Law Chambers",
    "Tax Advisors LLP",
    "& Co., Advocates",
    "Legal, GST Litigation",
)
CLIENT_STEMS = (
    "Shree Ganesh Textiles",
    "Sai Krishna Pharma",
    "Bharat Steel Traders",
    "Annapurna Foods",
    "Deccan Auto Components",
    "Gujarat Chemicals",
    "Kaveri Agro Exports",
    "Indus Logistics",
    "Malabar Spices",
    "Narmada Cements",
    "Himalaya Packaging",
    "Coromandel Electricals",
    "Vindhya Infra Projects",
    "Konark Handlooms",
    "Sahyadri Software Services",
    "Thar Solar Power",
)
CLIENT_KINDS = ("Pvt Ltd", "LLP", "Ltd", "& Sons", "Enterprises")
STATE_CODES = ("27", "24", "29", "07", "33", "36", "19", "09")

# notice type, case title, tasks (title, priority, days from notice to due)
MATTERS: tuple[tuple[str, str, tuple[tuple[str, str, int], ...]], ...] = (
    (
        "ASMT-10",
        "Scrutiny of returns u/s 61: GSTR-3B vs GSTR-2B ITC mismatch",
        (
            ("Collect GSTR-2B reconciliation from client", "High", 7),
            ("Submit reply to ASMT-10 notice", "Critical", 30),
        ),
    ),
    (
        "DRC-01A",
        "Intimation of tax ascertained u/s 73(5): short payment of output tax",
        (
            ("Review DRC-01A computation with client", "Medium", 5),
            ("File DRC-01A Part B objections", "High", 14),
        ),
    ),
    (
        "DRC-01 s.73",
        "Show-cause notice u/s 73: excess ITC availed",
        (
            ("Draft reply to DRC-01 show-cause notice", "High", 20),
            ("Submit reply to DRC-01 show-cause notice", "Critical", 30),
            ("Request personal hearing before adjudicating authority", "Medium", 25),
        ),
    ),
    (
        "DRC-01 s.74",
        "Show-cause notice u/s 74: alleged fake invoices, fraud invoked",
        (
            ("Obtain supplier confirmations and e-way bills", "High", 10),
            ("Submit reply to DRC-01 show-cause notice", "Critical", 30),
        ),
    ),
    (
        "APL-01",
        "First appeal u/s 107 against order in DRC-07",
        (
            ("Pay pre-deposit of 10% of disputed tax for appeal", "Critical", 20),
            ("File APL-01 appeal on GST portal", "Critical", 90),
            ("Prepare hearing brief for appellate authority", "Medium", 60),
        ),
    ),
    (
        "GSTAT",
        "Second appeal u/s 112 before GST Appellate Tribunal",
        (
            ("Pay additional pre-deposit of 10% for GSTAT appeal", "Critical", 30),
            ("File GSTAT appeal in APL-05", "Critical", 90),
            ("Compile paper book for GSTAT hearing", "High", 75),
        ),
    ),
)
HEARING_PURPOSES = (
    "Personal hearing u/s 75(4)",
    "Appeal hearing",
    "Adjourned hearing",
    "Final arguments",
    "Admission hearing",
)
DEMO_RULES: tuple[tuple[str, str, dict[str, Any], list[dict[str, Any]]], ...] = (
    (
        "Escalate Critical reply tasks two days overdue to the case owner",
        "task_overdue",
        {"priority": "Critical", "days_overdue": {"gte": 2}},
        [
            {"type": "escalate", "reassign_to": "case_owner"},
            {
                "type": "notify",
                "recipient": "case_owner",
                "channel": "email",
                "template": "task_overdue",
            },
        ],
    ),
    (
        "Tell the assignee as soon as a task is overdue",
        "task_overdue",
        {"priority": {"in": ["Critical", "High", "Medium"]}},
        [
            {
                "type": "notify",
                "recipient": "assignee",
                "channel": "email",
                "template": "task_overdue",
            }
        ],
    ),
    (
        "Alert admins when an SLA is breached",
        "sla_violation",
        {},
        [
            {
                "type": "notify",
                "recipient": "admins",
                "channel": "email",
                "template": "sla_violation",
            }
        ],
    ),
    (
        "Remind the advocate to prepare for a hearing due within 24 hours",
        "deadline_approaching",
        {"entity_type": "hearing", "hours_until_due": {"lte": 24}},
        [
            {
                "type": "create_task",
                "title": "Prepare hearing brief and carry authorisation letter",
                "priority": "High",
                "due_in_hours": 12,
                "assign_to": "assignee",
            }
        ],
    ),
)


@dataclass(frozen=True)
class DemoSummary:
    tenants: int
    users: int
    clients: int
    cases: int
    hearings: int
    tasks: int
    documents: int
    rules: int
    anchor: datetime


def gstin(rng: random.Random) -> str:
    """A well-formed GSTIN: state code, PAN, entity number, Z, mod-36 check character."""
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    pan = (
        "".join(rng.choice(letters) for _ in range(3))
        + rng.choice("CPFH")
        + rng.choice(letters)
        + f"{rng.randrange(10000):04d}"
        + rng.choice(letters)
    )
    body = rng.choice(STATE_CODES) + pan + str(rng.randint(1, 9)) + "Z"
    return body + gstin_check_char(body)


def gstin_check_char(first14: str) -> str:
    chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    total = 0
    for i, c in enumerate(first14):
        v = chars.index(c) * (2 if i % 2 else 1)
        total += v // 36 + v % 36
    return chars[(36 - total % 36) % 36]


def tenant_ids(count: int, seed: int) -> list[uuid.UUID]:
    return [uuid.uuid5(DEMO_NAMESPACE, f"tenant/{seed}/{i}") for i in range(count)]


TABLES = text(
    "SELECT to_regclass('tenants') IS NOT NULL, to_regclass('gstjobs_demo_tenants') IS NOT NULL"
)
FOREIGN_PRACTICES = text(
    """
    SELECT count(*) FROM tenants t
    WHERE NOT EXISTS (SELECT 1 FROM gstjobs_demo_tenants d WHERE d.tenant_id = t.id)
    """
)
DEMO_PRACTICES = text("SELECT tenant_id FROM gstjobs_demo_tenants ORDER BY tenant_id")
RECORD = text(
    "INSERT INTO gstjobs_demo_tenants (tenant_id, seed) SELECT unnest(CAST(:ids AS uuid[])), :seed"
)


def foreign_practices(conn: Connection) -> int:
    """Practices in this database that the demo did not create (read before migrating)."""
    has_tenants, has_marks = conn.execute(TABLES).one()
    if not has_tenants:
        return 0
    if not has_marks:
        return int(conn.execute(text("SELECT count(*) FROM tenants")).scalar_one())
    return int(conn.execute(FOREIGN_PRACTICES).scalar_one())


def load(
    conn: Connection,
    *,
    tenants: int,
    seed: int,
    tasks_per_tenant: int,
    anchor: datetime,
    reset: bool,
    progress: Progress = SILENT,
) -> DemoSummary:
    """Load the data set in the caller's transaction. Refuses to load twice unless
    ``reset``, which first removes every demo practice (whatever seed or size made it)."""
    ids = tenant_ids(tenants, seed)
    existing = list(conn.execute(DEMO_PRACTICES).scalars())
    if existing and not reset:
        raise UsageError(
            f"demo data is already loaded ({len(existing)} practices); pass --reset to replace it."
        )
    if existing:
        delete(conn, existing)
    conn.execute(RECORD, {"ids": ids, "seed": seed})
    gen = _Generator(random.Random(seed), seed, anchor, tasks_per_tenant)
    conn.execute(
        text(
            "INSERT INTO courts (id, name, city) SELECT * FROM unnest("
            "CAST(:ids AS uuid[]), CAST(:names AS text[]), CAST(:cities AS text[])) "
            "ON CONFLICT (id) DO NOTHING"
        ),
        {"ids": gen.court_ids, "names": [c[0] for c in COURTS], "cities": [c[1] for c in COURTS]},
    )
    raw = conn.connection.driver_connection
    assert isinstance(raw, PgConnection)
    counted = dict.fromkeys(_COLUMNS, 0)
    # A chunk of practices at a time, so memory stays flat however many are asked for;
    # within a chunk, tables go in dependency order (tenants before users before cases).
    progress.step("loading practices")
    for start in range(0, len(ids), TENANTS_PER_CHUNK):
        rows = gen.build(ids[start : start + TENANTS_PER_CHUNK])
        for table, columns in _COLUMNS.items():
            _copy(raw, table, columns, rows[table])
            counted[table] += len(rows[table])
        progress.advance(min(start + TENANTS_PER_CHUNK, len(ids)), len(ids))
    return DemoSummary(
        tenants,
        counted["users"],
        counted["clients"],
        counted["cases"],
        counted["hearings"],
        counted["tasks"],
        counted["documents"],
        counted["automation_rules"],
        anchor,
    )


def delete(conn: Connection, ids: Sequence[uuid.UUID]) -> None:
    """Remove these tenants and everything the jobs wrote for them."""
    for table in (
        "audit_log",
        "automation_logs",
        "analytics_snapshots",
        "automation_events",
        "notifications",
    ):
        conn.execute(
            text(f"DELETE FROM {table} WHERE tenant_id = ANY(:ids)"),  # our constant
            {"ids": list(ids)},
        )
    conn.execute(text("DELETE FROM tenants WHERE id = ANY(:ids)"), {"ids": list(ids)})
    conn.execute(
        text("DELETE FROM gstjobs_demo_tenants WHERE tenant_id = ANY(:ids)"), {"ids": list(ids)}
    )


_COLUMNS: dict[str, tuple[str, ...]] = {
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
    ),
    "clients": ("id", "tenant_id", "name", "gstin"),
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
    "hearings": (
        "id",
        "tenant_id",
        "case_id",
        "court_id",
        "hearing_date",
        "status",
        "purpose",
        "created_at",
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


def _copy(
    raw: PgConnection, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    with (
        raw.cursor() as cur,
        cur.copy(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN"  # names are our constants
        ) as copy,
    ):
        for row in rows:
            copy.write_row(row)


class _Generator:
    def __init__(self, rng: random.Random, seed: int, anchor: datetime, tasks_per_tenant: int):
        self.rng = rng
        self.seed = seed
        self.anchor = anchor
        self.tasks_per_tenant = tasks_per_tenant
        self.tz = ZoneInfo(TIMEZONE)
        self.court_ids = [uuid.uuid5(DEMO_NAMESPACE, f"court/{n}/{c}") for n, c in COURTS]

    def uid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def build(self, ids: Sequence[uuid.UUID]) -> dict[str, list[tuple[Any, ...]]]:
        rows: dict[str, list[tuple[Any, ...]]] = {t: [] for t in _COLUMNS}
        for index, tenant_id in enumerate(ids):
            self._tenant(index, tenant_id, rows)
        return rows

    def _local(self, days: float, hour: int, minute: int) -> datetime:
        day = (self.anchor.astimezone(self.tz) + timedelta(days=days)).date()
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.tz)

    def _tenant(
        self, index: int, tenant_id: uuid.UUID, rows: dict[str, list[tuple[Any, ...]]]
    ) -> None:
        rng = self.rng
        a, b = rng.sample(SURNAMES, 2)
        firm = (
            f"{a} {rng.choice(FIRM_KINDS)}" if index % 2 else f"{a} & {b} {rng.choice(FIRM_KINDS)}"
        )
        domain = f"{a.lower()}{index}.example.in"
        rows["tenants"].append((tenant_id, firm, TIMEZONE, self.anchor - timedelta(days=400)))

        staff: dict[str, list[uuid.UUID]] = {"admin": [], "advocate": [], "staff": []}
        for role, count in (("admin", 1), ("advocate", 3), ("staff", 2)):
            for _ in range(count):
                user_id = self.uid()
                first, last = rng.choice(GIVEN), rng.choice(SURNAMES)
                phone = f"+919{rng.randrange(10**8, 10**9)}"
                rows["users"].append(
                    (
                        user_id,
                        tenant_id,
                        f"{first} {last}",
                        f"{first.lower()}.{last.lower()}@{domain}",
                        phone,
                        role,
                        rng.random() < 0.6,
                        True,
                    )
                )
                staff[role].append(user_id)
        lawyers = staff["advocate"] + staff["admin"]
        everyone = lawyers + staff["staff"]

        if index % 2 == 0:
            for priority, hours in (("Critical", 12), ("High", 48), ("Medium", 120), ("Low", 240)):
                rows["sla_policies"].append((tenant_id, priority, hours))

        for name, trigger, conditions, actions in DEMO_RULES:
            rows["automation_rules"].append(
                (self.uid(), tenant_id, name, trigger, _json(conditions), _json(actions), True)
            )

        case_count = max(1, self.tasks_per_tenant // 3)
        clients = []
        for _ in range(max(1, case_count // 2)):
            client_id = self.uid()
            name = f"{rng.choice(CLIENT_STEMS)} {rng.choice(CLIENT_KINDS)}"
            rows["clients"].append((client_id, tenant_id, name, gstin(rng)))
            clients.append(client_id)

        tasks_left = self.tasks_per_tenant
        for n in range(case_count):
            notice, title, task_templates = rng.choice(MATTERS)
            case_id = self.uid()
            owner, advocate = rng.choice(lawyers), rng.choice(staff["advocate"])
            notice_day = rng.uniform(-60, 5)
            closed = rng.random() < 0.1
            created = self._local(notice_day, 10, 0)
            fy = 2019 + rng.randrange(5)
            number = f"{notice.split()[0]}/{fy}-{(fy + 1) % 100:02d}/{index:03d}{n:05d}"
            rows["cases"].append(
                (
                    case_id,
                    tenant_id,
                    number,
                    title,
                    "Closed" if closed else "Active",
                    owner,
                    advocate,
                    rng.choice(clients),
                    notice,
                    created,
                    self.anchor - timedelta(days=rng.uniform(0, 10)) if closed else None,
                )
            )
            for d in range(rng.randint(1, 3)):
                rows["documents"].append(
                    (
                        self.uid(),
                        tenant_id,
                        case_id,
                        f"{notice.split()[0]}-annexure-{d + 1}.pdf",
                        created + timedelta(days=rng.uniform(0, 20)),
                    )
                )
            self._hearings(tenant_id, case_id, closed, rows)
            for task_title, priority, _days in task_templates:
                if tasks_left <= 0:
                    break
                tasks_left -= 1
                self._task(tenant_id, case_id, task_title, priority, rng.choice(everyone), rows)
        while tasks_left > 0:  # practice-level tasks without a case
            tasks_left -= 1
            self._task(
                tenant_id,
                None,
                "Review GSTR-9 annual return draft for client",
                "Low",
                rng.choice(everyone),
                rows,
            )

    def _hearings(
        self,
        tenant_id: uuid.UUID,
        case_id: uuid.UUID,
        closed: bool,
        rows: dict[str, list[tuple[Any, ...]]],
    ) -> None:
        rng = self.rng
        for _ in range(rng.choice((0, 1, 1, 2))):
            day = rng.choice((-20, -7, -3, -1, 0, 0, 1, 1, 2, 5, 12, 30)) + rng.choice((0, 0, 1))
            when = self._local(day, rng.choice((10, 11, 14, 15)), rng.choice((0, 30)))
            if when <= self.anchor:
                status = rng.choices(
                    ("Attended", "Adjourned", "Missed", "Scheduled"), (70, 15, 5, 10)
                )[0]
            else:
                status = (
                    "Cancelled" if closed else rng.choices(("Scheduled", "Cancelled"), (95, 5))[0]
                )
            rows["hearings"].append(
                (
                    self.uid(),
                    tenant_id,
                    case_id,
                    rng.choice(self.court_ids),
                    when,
                    status,
                    rng.choice(HEARING_PURPOSES),
                    when - timedelta(days=rng.uniform(10, 40)),
                )
            )

    def _task(
        self,
        tenant_id: uuid.UUID,
        case_id: uuid.UUID | None,
        title: str,
        priority: str,
        assignee: uuid.UUID,
        rows: dict[str, list[tuple[Any, ...]]],
    ) -> None:
        rng = self.rng
        due = self.anchor + timedelta(hours=rng.uniform(-20 * 24, 25 * 24))
        if rng.random() < 0.15:  # a cluster due within the next day, for the morning alerts
            due = self.anchor + timedelta(hours=rng.uniform(1, 23))
        created = min(
            due - timedelta(hours=rng.uniform(24, 10 * 24)),
            self.anchor - timedelta(hours=rng.uniform(1, 72)),
        )
        if due < self.anchor:
            status = rng.choices(
                ("Completed", "Pending", "In Progress", "Cancelled"), (60, 20, 15, 5)
            )[0]
        else:
            status = rng.choices(("Pending", "In Progress", "Completed"), (60, 30, 10))[0]
        completed = None
        if status == "Completed":
            completed = min(self.anchor, created + timedelta(hours=rng.uniform(2, 20 * 24)))
        rows["tasks"].append(
            (
                self.uid(),
                tenant_id,
                case_id,
                title,
                priority,
                status,
                assignee,
                due,
                created,
                completed,
            )
        )


def _json(value: Any) -> str:
    return json.dumps(value)
