"""``gstjobs run limitation-watch`` and ``gstjobs limitation list`` through the real command."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Engine

from tests.support.limitation import matter, proceeding


def test_run_and_list_the_register(engine: Engine, cli: Any) -> None:
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
        proceeding(conn, m, "ASMT_10", date(2026, 11, 19), communicated_date=date(2026, 11, 20))
    run = cli("run", "limitation-watch", "--force", "--as-of", "2026-11-29T07:30", "--json")
    assert run.code == 0, run.stderr
    doc = run.json()
    assert doc["job"] == "limitation-watch" and doc["success"]
    assert set(doc["results"]) >= {
        "proceedingsScanned",
        "datesComputed",
        "datesChanged",
        "dueIn7Days",
        "lapsedToday",
        "inCondonation",
        "defencesFound",
        "inputsMissing",
        "notificationsQueued",
    }
    listed = cli("limitation", "list", "--as-of", "2026-11-29T07:30", "--days", "90", "--json")
    assert listed.code == 0, listed.stderr
    dates = listed.json()["dates"]
    assert [d["dueDate"] for d in dates] == sorted(d["dueDate"] for d in dates)
    first = dates[0]
    assert (first["ruleId"], first["dueDate"], first["daysLeft"]) == (
        "ASMT11_REPLY",
        "2026-12-20",
        21,
    )
    assert first["fallsOnHoliday"]
    assert "Kaveri" not in listed.stdout  # case numbers and ids, never a client's name
    table = cli("limitation", "list", "--as-of", "2026-11-29T07:30", "--days", "90")
    assert table.code == 0 and "20-12-2026 (Sun)" in table.stdout
    # At 80 columns each date still says what to do and for which matter.
    narrow = cli("limitation", "list", "--as-of", "2026-11-29T07:30", env={"COLUMNS": "80"})
    assert narrow.code == 0 and "what · matter" in narrow.stdout
    assert all(len(line) <= 80 for line in narrow.stdout.splitlines())
    left_out = " ".join(narrow.stdout.split()).split("not shown at this width:")[-1]
    assert "what" not in left_out and "matter" not in left_out


def test_what_health_report_says_is_missing_is_listed_with_what_to_enter(
    engine: Engine, cli: Any
) -> None:
    """health-report counts DATA_MISSING per practice and names one; `limitation
    missing` lists every such proceeding, including those with no date to show in
    `limitation list` (a DRC-01A without its reply date)."""
    with engine.begin() as conn:
        m = matter(conn)
        proceeding(conn, m, "DRC_01A", date(2026, 11, 3), communicated_date=date(2026, 11, 3))
        proceeding(conn, m, "SCN_S73", date(2026, 11, 3), reference_no="SCN/9")
        proceeding(conn, m, "ASMT_10", date(2026, 11, 19), communicated_date=date(2026, 11, 20))
    report = cli("health-report", "--json")
    (finding,) = [f for f in report.json()["findings"] if "DATA_MISSING" in f["subject"]]
    assert "2 open proceeding(s)" in finding["message"]
    assert "see gstjobs limitation missing" in finding["message"]
    listed = cli("limitation", "missing", "--json")
    assert listed.code == 0, listed.stderr
    rows = {r["proceeding"]: r for r in listed.json()["proceedings"]}
    assert set(rows) == {"DRC_01A", "SCN_S73"}  # the ASMT-10 has all it needs
    assert rows["DRC_01A"]["enter"] == ["reply date stated in the intimation"]
    assert "financial years" in rows["SCN_S73"]["enter"]
    assert rows["SCN_S73"]["referenceNo"] == "SCN/9"
    assert "Kaveri" not in listed.stdout  # case numbers and ids, never a client's name
    narrow = cli("limitation", "missing", env={"COLUMNS": "80"})
    assert narrow.code == 0 and "DRC-01A" in narrow.stdout and "reply date" in narrow.stdout
    assert all(len(line) <= 80 for line in narrow.stdout.splitlines())


def test_bad_options_are_one_line_and_exit_2(cli: Any) -> None:
    bad = cli("limitation", "list", "--tenant", "not-a-uuid")
    assert bad.code == 2 and "is not a practice id" in bad.stderr and "Traceback" not in bad.stderr
    days = cli("limitation", "list", "--days", "-1")
    assert days.code == 2
