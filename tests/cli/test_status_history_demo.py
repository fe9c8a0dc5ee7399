"""`gstjobs status`, `history`, `db` and `demo` through the real command."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text

from gstjobs.jobs import JOBS


def test_demo_loads_deterministic_data_and_refuses_twice(cli: Any, engine: Engine) -> None:
    first = cli("demo", "--tenants", "2", "--seed", "11", "--as-of", "2026-01-15T10:00", "--json")
    assert first.code == 0, first.stderr
    counts = first.json()
    assert counts["tenants"] == 2 and counts["tasks"] == 120
    with engine.connect() as conn:
        snapshot = conn.execute(
            text(
                "SELECT md5(string_agg(id::text || title || due_date::text, ',' ORDER BY id)) "
                "FROM tasks"
            )
        ).scalar_one()
        gstins = conn.execute(text("SELECT gstin FROM clients")).scalars().all()
    assert all(len(g) == 15 for g in gstins)

    again = cli("demo", "--tenants", "2", "--seed", "11", "--as-of", "2026-01-15T10:00")
    assert again.code == 2 and "--reset" in again.stderr

    reset = cli(
        "demo", "--tenants", "2", "--seed", "11", "--as-of", "2026-01-15T10:00", "--reset", "--json"
    )
    assert reset.code == 0, reset.stderr
    with engine.connect() as conn:
        assert (
            conn.execute(
                text(
                    "SELECT md5(string_agg(id::text || title || due_date::text, ',' ORDER BY id)) "
                    "FROM tasks"
                )
            ).scalar_one()
            == snapshot
        )
        assert conn.execute(text("SELECT count(*) FROM tenants")).scalar_one() == 2


def test_demo_gives_the_sla_check_work(cli: Any) -> None:
    assert cli("demo", "--tenants", "2").code == 0
    run = cli("run", "sla-check", "--json")
    assert run.code == 0, run.stderr
    results = run.json()["results"]
    assert results["overdueTasks"] > 0 and results["newlyOverdue"] == results["overdueTasks"]
    # SLA is time to first action on undated tasks (issue 12): the demo may have none.
    assert results["slaViolations"] >= 0


def test_status_lists_every_job_and_the_last_run(cli: Any) -> None:
    assert cli("run", "sla-check").code == 0
    result = cli("status", "--json")
    assert result.code == 0, result.stderr
    doc = result.json()
    jobs = {j["job"]: j for j in doc["jobs"]}
    assert set(jobs) == {s.name for s in JOBS}
    sla = jobs["check-sla-and-overdue"]
    assert sla["lastStatus"] == "success" and sla["runs7d"] == 1
    assert sla["successRate7d"] == 1.0 and sla["late"] is False
    assert sla["nextDueAt"].endswith("Z")
    never = jobs["send-hearing-reminders"]
    assert never["lastStatus"] is None and never["late"] is True
    table = cli("status")
    assert table.code == 0
    assert "sla-check" in table.stdout and "LATE" in table.stdout


def test_history_filters(cli: Any, engine: Engine) -> None:
    for _ in range(3):
        assert cli("run", "sla-check").code == 0
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE job_runs SET started_at = now() - interval '3 days' "
                "WHERE id = (SELECT min(id) FROM job_runs)"
            )
        )
    assert len(cli("history", "--json").json()["runs"]) == 3
    assert len(cli("history", "--limit", "1", "--json").json()["runs"]) == 1
    assert len(cli("history", "--since", "24h", "--json").json()["runs"]) == 2
    assert cli("history", "--status", "failed", "--json").json()["runs"] == []
    assert len(cli("history", "--job", "sla-check", "--json").json()["runs"]) == 3
    assert cli("history", "--job", "health-check", "--json").json()["runs"] == []
    assert "sla-check" in cli("history").stdout  # people read the CLI name


def test_db_status_names_the_database_and_masks_nothing_secret(cli: Any) -> None:
    result = cli("db", "status", "--json")
    assert result.code == 0
    doc = result.json()
    assert doc["pending"] == []
    assert doc["migrations"][0]["version"] == "001"
    upgrade = cli("db", "upgrade", "--json")
    assert upgrade.code == 0 and upgrade.json()["applied"] == []


def test_demo_refuses_a_database_with_practices_it_did_not_create(cli: Any, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO tenants (name) VALUES ('A real firm')"))
    refused = cli("demo", "--tenants", "1")
    assert refused.code == 2
    assert "1 practice(s) the demo did not create" in refused.stderr
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM tenants")).scalar_one() == 1
    forced = cli("demo", "--tenants", "1", "--force")
    assert forced.code == 0, forced.stderr


def test_reset_removes_every_demo_practice_whatever_seed_or_size(cli: Any, engine: Engine) -> None:
    assert cli("demo", "--tenants", "5", "--seed", "3").code == 0
    assert cli("run", "sla-check").code == 0  # jobs write for them too
    again = cli("demo")
    assert again.code == 2 and "5 practices" in again.stderr
    assert cli("demo", "--reset").code == 0  # seed 7, 3 practices
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM tenants")).scalar_one() == 3
        assert conn.execute(text("SELECT count(*) FROM gstjobs_demo_tenants")).scalar_one() == 3


def test_db_stop_refuses_a_server_it_does_not_own(cli: Any) -> None:
    result = cli("db", "stop")
    assert result.code == 2 and "DATABASE_URL is set" in result.stderr


def test_db_stop_stops_the_embedded_server_and_the_next_command_starts_it(
    cli: Any, tmp_path: Any
) -> None:
    data = {"GSTJOBS_DATA_DIR": str(tmp_path / "own")}
    assert cli("db", "upgrade", env=data, database=False).code == 0
    stopped = cli("db", "stop", "--json", env=data, database=False)
    assert stopped.code == 0 and stopped.json()["stopped"] is True
    again = cli("db", "stop", "--json", env=data, database=False)
    assert again.json()["stopped"] is False
    assert cli("db", "status", env=data, database=False).code == 0
    assert cli("db", "stop", env=data, database=False).code == 0


def _widest(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)


def test_tables_fit_80_columns_and_are_not_padded_when_piped(cli: Any) -> None:
    assert cli("demo", "--tenants", "2").code == 0
    assert cli("run", "sla-check").code == 0
    for args in (("status",), ("history",), ("rules", "list"), ("analytics",)):
        narrow = cli(*args, env={"COLUMNS": "80"})
        assert narrow.code == 0, narrow.stderr
        assert _widest(narrow.stdout) <= 80, (args, narrow.stdout)
        assert "…" not in narrow.stdout  # nothing cut to an ellipsis
    status = cli("status", env={"COLUMNS": "80"}).stdout
    for word in ("sla-check", "success", "late?", "next due", "missed"):
        assert word in status
    wide = cli("status", env={"COLUMNS": "200"}).stdout
    assert "success 7d" in wide and "schedule" in wide
    assert all(line == line.rstrip() for line in wide.splitlines())


def test_a_successful_run_under_cron_prints_nothing_unless_asked(cli: Any) -> None:
    quiet = cli("run", "sla-check")
    assert quiet.code == 0 and quiet.stdout == "" and quiet.stderr == ""
    # Again at once, from a script: a manual run (a scheduled one would find its slot
    # served and record itself skipped).
    told = cli("run", "sla-check", "-v", "--trigger", "manual")
    assert "sla-check" in told.stdout and "success" in told.stdout
    again = cli("run", "sla-check", "-q", "--trigger", "manual")
    assert again.code == 0 and again.stdout == ""  # -q after the command is global too


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("run", "sla-check", "--dry-run"), "dry run"),
        (("prune", "--dry-run"), "dry run"),
        (("run-due", "--dry-run"), "due at"),
        (("notify", "send", "--dry-run"), "dry run"),
    ],
)
def test_a_dry_run_prints_its_summary_without_a_terminal(
    cli: Any, args: tuple[str, ...], needle: str
) -> None:
    """A dry run's output is its purpose: piped, it still prints (only -q silences it)."""
    piped = cli(*args)
    assert piped.code == 0 and needle in piped.stdout, piped.stderr
    as_json = cli(*args, "--json")
    assert as_json.json()["dryRun"] is True  # one JSON document, nothing else on stdout
    assert cli(*args, "-q").stdout == ""


def test_long_work_shows_progress_on_a_terminal_and_nothing_in_a_pipe(
    db_url: Any, tmp_path: Any
) -> None:
    import os
    import pty
    import subprocess
    import sys

    from tests.conftest import clean_env, url_text

    env = clean_env({"DATABASE_URL": url_text(db_url), "TERM": "xterm", "NO_COLOR": ""})
    args = [sys.executable, "-m", "gstjobs", "demo", "--tenants", "60"]
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=slave, env=env, cwd=tmp_path)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    proc.wait(timeout=120)
    os.close(master)
    assert proc.returncode == 0
    assert b"loading practices" in seen
    piped = subprocess.run(
        [*args[:-2], "--reset", "--tenants", "60"],
        capture_output=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert piped.returncode == 0 and piped.stderr == b""
