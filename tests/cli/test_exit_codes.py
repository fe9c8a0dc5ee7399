"""Every exit code of CONTRACT §2, from the real command, with one line on stderr."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from tests.conftest import AS_OF, url_text
from tests.support import factory


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_success_exits_0_with_seed_json(cli: Any, engine: Engine) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        factory.task(conn, t, due=AS_OF - timedelta(days=1))
    result = cli("run", "sla-check", "--force", "--as-of", "2026-01-15T10:00", "--json")
    assert result.code == 0, result.stderr
    doc = result.json()
    assert doc["success"] is True
    assert doc["job"] == "check-sla-and-overdue"
    assert doc["status"] == "success"
    assert doc["executedAt"].endswith("Z")
    assert doc["asOf"] == "2026-01-15T04:30:00Z"  # 10:00 read in Asia/Kolkata
    assert doc["executionTime"].endswith("s")
    for key in ("overdueTasks", "newlyOverdue", "slaViolations", "rulesTriggered"):
        assert isinstance(doc["results"][key], int)
    assert doc["results"]["overdueTasks"] == 1
    assert "***" in doc["database"] or "@" in doc["database"]


def test_canonical_name_and_global_json_flag(cli: Any) -> None:
    result = cli("--json", "run", "check-sla-and-overdue")
    assert result.code == 0, result.stderr
    assert result.json()["job"] == "check-sla-and-overdue"


def test_failed_job_exits_1_and_is_recorded(cli: Any, engine: Engine) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn, timezone="Not/AZone")
        factory.task(conn, t, due=AS_OF - timedelta(days=1))
    result = cli("run", "sla-check", "--force", "--as-of", "2026-01-15T10:00", "--json")
    assert result.code == 1
    doc = result.json()
    assert doc["success"] is False
    assert str(t) in doc["error"]
    with engine.connect() as conn:
        row = conn.execute(text("SELECT status, error FROM job_runs")).one()
        audit = conn.execute(
            text("SELECT details FROM audit_log WHERE action_type = 'background_job_execution'")
        ).scalar_one()
    assert row.status == "failed" and str(t) in row.error
    assert audit["status"] == "failed"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("run", "no-such-job"), "unknown job"),
        (("run", "sla-check", "--tenant", "not-a-uuid"), "--tenant"),
        (("run", "sla-check", "--as-of", "yesterday-ish"), "--as-of"),
        (("run", "sla-check", "--no-such-option"), "--no-such-option"),
        (("no-such-command",), "no-such-command"),
        (("run",), "Missing argument"),
        (("history", "--status", "bogus"), "--status"),
        (("history", "--since", "last tuesday"), "--since"),
        (("history", "--since", "99999999999d"), "--since"),
        (("run", "sla-check", "--as-of", "0001-01-01T00:00"), "--as-of"),
        (("run", "sla-check", "--as-of", "2026-02-30"), "--as-of"),
        (("demo", "--as-of", "soon"), "--as-of"),
    ],
)
def test_usage_errors_exit_2(cli: Any, args: tuple[str, ...], needle: str) -> None:
    result = cli(*args)
    assert result.code == 2, (result.stdout, result.stderr)
    assert needle in one_line(result.stderr)
    assert result.stdout == ""


def test_unknown_tenant_exits_2(cli: Any) -> None:
    result = cli("run", "sla-check", "--tenant", "3f2b8c1e-5d4a-4c7b-9e1f-2a6d8b0c4e7f")
    assert result.code == 2
    assert "no tenant" in one_line(result.stderr)


def test_unreachable_database_exits_69_with_password_masked(cli: Any) -> None:
    url = "postgresql://postgres:hunter2@127.0.0.1:1/gstjobs"
    result = cli("run", "sla-check", "--json", env={"DATABASE_URL": url})
    assert result.code == 69
    line = one_line(result.stderr)
    assert "hunter2" not in line and "hunter2" not in result.stdout
    assert "***" in line
    doc = result.json()
    assert doc["success"] is False and doc["job"] == "check-sla-and-overdue"
    assert doc["executedAt"].endswith("Z")


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"DATABASE_URL": "mysql://root@localhost/db"}, "DATABASE_URL"),
        ({"DATABASE_URL": "not a url at all"}, "DATABASE_URL"),
        ({"GSTJOBS_TIMEZONE": "Mars/Olympus_Mons"}, "GSTJOBS_TIMEZONE"),
        ({"GSTJOBS_OVERDUE_GRACE_MINUTES": "fifteen"}, "GSTJOBS_OVERDUE_GRACE_MINUTES"),
        ({"SMTP_HOST": "127.0.0.1", "SMTP_SECURITY": "tls13"}, "SMTP_SECURITY"),
        ({"WHATSAPP_API_URL": "http://127.0.0.1:9"}, "WHATSAPP_PHONE_NUMBER_ID"),
    ],
)
def test_configuration_errors_exit_78(cli: Any, env: dict[str, str], needle: str) -> None:
    result = cli("run", "sla-check", env=env)
    assert result.code == 78
    assert needle in one_line(result.stderr)


def test_unmigrated_database_exits_78_and_says_how_to_fix(cli: Any, empty_db_url: URL) -> None:
    result = cli("run", "sla-check", env={"DATABASE_URL": url_text(empty_db_url)})
    assert result.code == 78
    assert "gstjobs db upgrade" in one_line(result.stderr)


def test_env_file_is_read_and_environment_wins(cli: Any, tmp_path: Any, db_url: URL) -> None:
    env_file = tmp_path / "prod.env"
    env_file.write_text("GSTJOBS_TIMEZONE=Not/AZone\n")
    result = cli("--env-file", str(env_file), "status")
    assert result.code == 78 and "GSTJOBS_TIMEZONE" in result.stderr
    result = cli("--env-file", str(env_file), "status", env={"GSTJOBS_TIMEZONE": "UTC"})
    assert result.code == 0, result.stderr


def test_command_line_database_url_wins(cli: Any, db_url: URL) -> None:
    result = cli(
        "--database-url",
        url_text(db_url),
        "status",
        "--json",
        env={"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nothing"},
    )
    assert result.code == 0, result.stderr
    assert (db_url.database or "?") in result.json()["database"]


def test_version_and_help(cli: Any) -> None:
    version = cli("--version")
    assert version.code == 0
    assert version.stdout.startswith("gstjobs ") and len(version.stdout.splitlines()) == 1
    helped = cli("--help")
    assert helped.code == 0
    for command in ("run", "status", "history", "db", "demo"):
        assert command in helped.stdout


@pytest.mark.parametrize(
    ("as_of", "needle"),
    [
        ("soon", "--as-of"),
        ("2008-06-01", "outside the demo's law (2024-07-01 to 2027-09-30"),
        ("2030-03-31", "outside the demo's law (2024-07-01 to 2027-09-30"),
    ],
)
def test_demo_with_bad_input_writes_nothing(
    cli: Any, empty_db_url: URL, as_of: str, needle: str
) -> None:
    result = cli("demo", "--as-of", as_of, env={"DATABASE_URL": url_text(empty_db_url)})
    assert result.code == 2 and needle in result.stderr
    assert result.stderr.count("\n") == 1
    status = cli("db", "status", "--json", env={"DATABASE_URL": url_text(empty_db_url)})
    assert len(status.json()["pending"]) == len(status.json()["migrations"])  # not migrated


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("health-report", "--hours", "0"), {}),
        (("health-report", "--as-of", "whenever"), {}),
        (("health-report", "--no-such-option"), {}),
        (("health-report",), {"DATABASE_URL": "mysql://x@y/z"}),
        (("health-report",), {"GSTJOBS_TIMEZONE": "Nowhere/Land"}),
    ],
)
def test_health_report_cannot_evaluate_is_unknown(
    cli: Any, args: tuple[str, ...], env: dict[str, str]
) -> None:
    """A monitoring check exits 3 (UNKNOWN) when it cannot run, never 2 (CRITICAL)."""
    result = cli(*args, env=env)
    assert result.code == 3, result.stderr
    assert "Traceback" not in result.stderr


def test_failed_run_with_json_still_says_one_line_on_stderr(cli: Any, engine: Engine) -> None:
    with engine.begin() as conn:
        factory.tenant(conn, timezone="Not/AZone")
        t = factory.tenant(conn, timezone="Not/AZone")
        factory.task(conn, t, due=AS_OF - timedelta(days=1))
    result = cli("run", "sla-check", "--json")
    assert result.code == 1
    assert result.json()["success"] is False
    assert "failed" in one_line(result.stderr)


@pytest.mark.parametrize("group", [(), ("db",), ("notify",), ("rules",)])
def test_a_bare_group_prints_its_help(cli: Any, group: tuple[str, ...]) -> None:
    result = cli(*group)
    assert result.code == 0
    assert "Usage: gstjobs" in result.stdout
    assert "(see gstjobs --help)" not in result.stderr


UNKNOWN_TENANT = "3f2b8c1e-5d4a-4c7b-9e1f-2a6d8b0c4e7f"


@pytest.mark.parametrize(
    "args",
    [
        ("run", "sla-check"),
        ("notify", "list"),
        ("notify", "send"),
        ("rules", "list"),
        ("analytics",),
    ],
)
def test_an_unknown_tenant_is_a_usage_error_everywhere(cli: Any, args: tuple[str, ...]) -> None:
    result = cli(*args, "--tenant", UNKNOWN_TENANT, "--json")
    assert result.code == 2, result.stderr
    assert "no tenant with id" in one_line(result.stderr)
    assert result.json()["success"] is False


def test_dash_v_as_an_option_value_is_a_value(cli: Any) -> None:
    result = cli("run", "sla-check", "--tenant", "-v")
    assert result.code == 2
    assert "Traceback" not in result.stderr
    assert "--tenant '-v' is not a practice id" in one_line(result.stderr)


def test_health_report_that_cannot_evaluate_says_unknown_on_stdout(cli: Any) -> None:
    result = cli("health-report", env={"GSTJOBS_NETWORK_TIMEOUT": "lots"})
    assert result.code == 3
    assert result.stdout.startswith("GSTJOBS UNKNOWN - GSTJOBS_NETWORK_TIMEOUT")
    as_json = cli("health-report", "--json", env={"GSTJOBS_NETWORK_TIMEOUT": "lots"})
    assert as_json.code == 3 and as_json.json()["status"] == "UNKNOWN"


def test_a_practice_can_be_named_by_the_prefix_the_tables_show(cli: Any, engine: Engine) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
    short = str(t)[:8]
    ran = cli("run", "sla-check", "--tenant", short, "--json")
    assert ran.code == 0, ran.stderr
    listed = cli("rules", "list", "--tenant", short, "--json")
    assert listed.code == 0, listed.stderr
    missing = cli("run", "sla-check", "--tenant", "ffffffff")
    assert missing.code == 2 and "no tenant with id starting ffffffff" in missing.stderr
