"""The words of the demo: states, forums, entity types, names, holidays, task chains, rules.

Everything a practitioner would check lives here as data, so a wrong form or forum is
fixed in one line. Sources: the CGST Act and Rules as summarised in
docs/statutory-dates.md; addresses are the published seats of the courts and the
state tax departments (demo data: nothing here is used to serve a real notice).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TIMEZONE = "Asia/Kolkata"


@dataclass(frozen=True)
class State:
    code: str  # GST state code, the first two digits of a GSTIN
    name: str
    city: str  # where the state's adjudicating and appellate officers sit in the demo
    tax_office: str  # address of the state tax department there
    high_court: str
    high_court_city: str
    high_court_address: str


STATES: tuple[State, ...] = (
    State(
        "27",
        "Maharashtra",
        "Mumbai",
        "GST Bhavan, Mazgaon, Mumbai 400010",
        "High Court of Judicature at Bombay",
        "Mumbai",
        "Fort, Mumbai 400032",
    ),
    State(
        "24",
        "Gujarat",
        "Ahmedabad",
        "Rajya Kar Bhavan, Ashram Road, Ahmedabad 380009",
        "High Court of Gujarat",
        "Ahmedabad",
        "Sola, Ahmedabad 380060",
    ),
    State(
        "29",
        "Karnataka",
        "Bengaluru",
        "Vanijya Therige Karyalaya, Gandhinagar, Bengaluru 560009",
        "High Court of Karnataka",
        "Bengaluru",
        "Ambedkar Veedhi, Bengaluru 560001",
    ),
    State(
        "07",
        "Delhi",
        "New Delhi",
        "Vyapar Bhawan, I.P. Estate, New Delhi 110002",
        "High Court of Delhi",
        "New Delhi",
        "Sher Shah Road, New Delhi 110503",
    ),
    State(
        "33",
        "Tamil Nadu",
        "Chennai",
        "Ezhilagam, Chepauk, Chennai 600005",
        "High Court of Judicature at Madras",
        "Chennai",
        "Parry's Corner, Chennai 600104",
    ),
    State(
        "36",
        "Telangana",
        "Hyderabad",
        "CT Complex, Nampally, Hyderabad 500001",
        "High Court for the State of Telangana",
        "Hyderabad",
        "Nayapul, Hyderabad 500066",
    ),
    State(
        "19",
        "West Bengal",
        "Kolkata",
        "14 Beliaghata Road, Kolkata 700015",
        "High Court at Calcutta",
        "Kolkata",
        "Esplanade Row West, Kolkata 700001",
    ),
    State(
        "09",
        "Uttar Pradesh",
        "Lucknow",
        "Commercial Tax Bhawan, Vibhuti Khand, Gomti Nagar, Lucknow 226010",
        "High Court of Judicature at Allahabad, Lucknow Bench",
        "Lucknow",
        "Vibhuti Khand, Gomti Nagar, Lucknow 226010",
    ),
)

# Forum levels, as migration 011 names them (courts.forum).
ADJUDICATING = "adjudicating_authority"
APPELLATE = "appellate_authority"
GSTAT = "gstat"
HIGH_COURT = "high_court"


@dataclass(frozen=True)
class Forum:
    state_code: str
    forum: str
    name: str
    city: str
    address: str


def forums(state: State) -> tuple[Forum, ...]:
    """The forums of one state a GST matter passes through, lowest first. The name
    leaves out the city, which messages print beside it."""
    return (
        Forum(
            state.code,
            ADJUDICATING,
            "Deputy Commissioner of State Tax (Adjudication)",
            state.city,
            state.tax_office,
        ),
        Forum(
            state.code,
            APPELLATE,
            "Joint Commissioner of State Tax (Appeals)",
            state.city,
            state.tax_office,
        ),
        Forum(
            state.code,
            GSTAT,
            f"GST Appellate Tribunal, {state.name} State Bench",
            state.city,
            f"GSTAT State Bench, {state.city}",
        ),
        Forum(
            state.code,
            HIGH_COURT,
            state.high_court,
            state.high_court_city,
            state.high_court_address,
        ),
    )


FORUMS: tuple[Forum, ...] = tuple(f for s in STATES for f in forums(s))

# Fixed-date national holidays (gazetted every year). Festival holidays move with the
# calendar: the practice enters them in the ``holidays`` table, which the loader reads.
NATIONAL_HOLIDAYS: tuple[tuple[int, int, str], ...] = (
    (1, 26, "Republic Day"),
    (8, 15, "Independence Day"),
    (10, 2, "Gandhi Jayanti"),
    (12, 25, "Christmas"),
)


@dataclass(frozen=True)
class EntityType:
    """A kind of taxpayer and the 4th letter of its PAN (the PAN's holder status)."""

    pan_letter: str
    kind: str
    suffixes: tuple[str, ...]  # how its name ends ('' for a proprietor, named below)


ENTITY_TYPES: tuple[EntityType, ...] = (
    EntityType("C", "company", ("Pvt Ltd", "Private Limited", "Ltd")),
    EntityType("F", "firm or LLP", ("LLP", "& Co.", "& Sons")),
    EntityType("P", "proprietor", ("",)),
    EntityType("H", "Hindu undivided family", ("HUF",)),
)
ENTITY_WEIGHTS = (45, 30, 20, 5)

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

# Notice types (cases.notice_type) and how often a practice meets each.
ASMT_10 = "ASMT-10"
DRC_01A = "DRC-01A"
SCN_73 = "DRC-01 s.73"
SCN_74 = "DRC-01 s.74"
APL_01 = "APL-01"
APL_05 = "GSTAT"
NOTICE_TYPES = (ASMT_10, DRC_01A, SCN_73, SCN_74, APL_01, APL_05)
NOTICE_WEIGHTS = (18, 14, 22, 14, 20, 12)

# The first financial year GSTR-2B exists for (generated from July 2020, FY 2020-21).
GSTR_2B_FROM_FY = 2020

# Task chains, in statutory order. Each step: (title, priority, who does it).
# "advocate" is the matter's assigned advocate, "staff" a clerk of the practice.
Step = tuple[str, str, str]
CHAINS: dict[str, tuple[Step, ...]] = {
    ASMT_10: (
        ("Collect GSTR-3B, GSTR-2B and books reconciliation from client", "High", "staff"),
        ("Draft ASMT-11 explanation to scrutiny notice", "High", "advocate"),
        ("File ASMT-11 reply to ASMT-10 notice", "Critical", "advocate"),
    ),
    DRC_01A: (
        ("Review DRC-01A computation with client", "Medium", "advocate"),
        ("Draft DRC-01A Part B reply", "High", "advocate"),
        ("File DRC-01A Part B reply on GST portal", "High", "advocate"),
    ),
    SCN_73: (
        ("Reconcile ITC claimed with GSTR-2B and purchase register", "High", "staff"),
        ("Draft reply to DRC-01 show-cause notice", "High", "advocate"),
        ("Client approval of draft reply", "Medium", "advocate"),
        ("Submit reply in DRC-06 to show-cause notice", "Critical", "advocate"),
    ),
    SCN_74: (
        ("Obtain supplier confirmations and e-way bills", "High", "staff"),
        ("Draft reply to DRC-01 show-cause notice", "High", "advocate"),
        ("Client approval of draft reply", "Medium", "advocate"),
        ("Submit reply in DRC-06 to show-cause notice", "Critical", "advocate"),
    ),
    APL_01: (
        ("Obtain copy of DRC-07 order and compute pre-deposit u/s 107(6)", "High", "advocate"),
        ("Pay pre-deposit of 10% of disputed tax (s.107(6))", "Critical", "staff"),
        ("File APL-01 appeal on GST portal", "Critical", "advocate"),
    ),
    APL_05: (
        (
            "Obtain copy of APL-04 order-in-appeal and compute pre-deposit u/s 112(8)",
            "High",
            "advocate",
        ),
        ("Pay additional pre-deposit of 10% for GSTAT appeal (s.112(8))", "Critical", "staff"),
        ("File APL-05 appeal before GSTAT", "Critical", "advocate"),
    ),
}
# The first action on every new matter (no due date: judged by the SLA, time to first
# action, as docs/statutory-dates.md §6 suggests).
TRIAGE_STEP: Step = (
    "Acknowledge the notice to the client and open the matter file",
    "High",
    "advocate",
)
CONDONATION_STEP: Step = (
    "File application for condonation of delay with APL-01 (s.107(4))",
    "Critical",
    "advocate",
)
BRIEF_TITLES = {
    ADJUDICATING: "Prepare hearing brief for personal hearing u/s 75(4)",
    APPELLATE: "Prepare hearing brief for appellate authority",
    GSTAT: "Compile paper book and brief for GSTAT hearing",
}
HEARING_PURPOSES = {
    ADJUDICATING: "Personal hearing u/s 75(4)",
    APPELLATE: "Appeal hearing",
    GSTAT: "Appeal hearing",
}
PRACTICE_TASKS: tuple[Step, ...] = (
    ("Review GSTR-9 annual return draft for client", "Low", "staff"),
    ("Update cause list register for the week", "Low", "staff"),
    ("Check GST portal for new notices of all clients", "Medium", "staff"),
)

# Titles of matters; {fy} is the financial year, {source} the return compared with.
TITLES = {
    ASMT_10: "Scrutiny of returns u/s 61 for FY {fy}: GSTR-3B vs {source} ITC mismatch",
    DRC_01A: "Intimation of tax ascertained u/s 73(5) for FY {fy}: short payment of output tax",
    SCN_73: "Show-cause notice u/s 73 for FY {fy}: excess ITC availed",
    SCN_74: "Show-cause notice u/s 74 for FY {fy}: alleged fake invoices, fraud invoked",
    APL_01: "First appeal u/s 107 against order in DRC-07 for FY {fy}",
    APL_05: "Second appeal u/s 112 before GST Appellate Tribunal for FY {fy}",
}
# Appended to a title when the SCN was deliberately issued after its last date (the
# demo's limitation defences: limitation-watch should find these and no others).
TIME_BARRED = " (SCN issued after the s.{section}(2) time limit: limitation defence)"

# The demo's automation rules. None hands a task to a partner: escalation raises the
# priority and tells the case owner. The rules engine dates a new task from the run's
# moment, so the hearing task is for the morning of the hearing (deadline-alerts runs at
# 09:00 IST); the brief itself is a task of the matter, due at 17:00 the working day
# before each hearing.
DEMO_RULES: tuple[tuple[str, str, dict[str, Any], list[dict[str, Any]]], ...] = (
    (
        # days_overdue is measured when sla-check first finds the task overdue (0 on
        # the 15-minute tick), so the rule keys on priority alone.
        "Raise a High task to Critical when it falls overdue and tell the case owner",
        "task_overdue",
        {"priority": "High"},
        # escalate raises the priority and tells (copies) the case owner; the task
        # stays with its assignee.
        [{"type": "escalate", "raise_priority": True}],
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
        "Tell the partners when a task is left untouched past its SLA",
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
        "On the morning of a hearing: check the cause list, carry the authorisation",
        "deadline_approaching",
        {"entity_type": "hearing", "hours_until_due": {"gte": 2, "lte": 9}},
        [
            {
                "type": "create_task",
                "title": "Check cause list; carry authorisation, reply and annexures",
                "priority": "High",
                "due_in_hours": 1,
                "assign_to": "assignee",
            }
        ],
    ),
)

# SLA (time to first action) per priority, on half the practices: hours a task may stay
# Pending, untouched, after it is created.
SLA_HOURS = (("Critical", 24), ("High", 48), ("Medium", 72), ("Low", 168))
