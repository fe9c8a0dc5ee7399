"""``gstjobs health-report`` end to end: monitoring-plugins exit codes 0/1/2/3."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from gstjobs.clock import iso_z
from gstjobs.jobs import JOBS
from tests.conftest import AS_OF
from tests.support import factory
from tests.support.automation import job_run, logs

AT = iso_z(AS_OF)


def ledger(engine: Engine, **overrides: dict[str, Any]) -> None:
    """Every job ran five minutes before AS_OF, in one second, unless overridden."""
    with engine.begin() as conn:
        for spec in JOBS:
            kw: dict[str, Any] = {
                "started": AS_OF - timedelta(minutes=5),
                **overrides.get(spec.cli_name, {}),
            }
            job_run(conn, spec.name, **kw)


def test_ok_exits_0_even_with_info_findings(engine: Engine, cli: Any) -> None:
    ledger(engine)
    result = cli("health-report", "--as-of", AT)
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("GSTJOBS OK - 0 critical, 0 warning, 0 info")
    with engine.begin() as conn:
        t = factory.tenant(conn)
        r = factory.rule(conn, t, "task_overdue", {}, [{"type": "notify", "recipient": "admins"}])
        logs(conn, t, r, at=AS_OF - timedelta(hours=1), success=94, failed=6)
    result = cli("health-report", "--as-of", AT, "--json")
    assert result.code == 0
    doc = result.json()
    assert (doc["status"], doc["exitCode"], doc["counts"]["INFO"]) == ("OK", 0, 1)
    assert doc["automation"]["success_rate"] == 94.0


def test_warning_exits_1(engine: Engine, cli: Any) -> None:
    ledger(engine, **{"sla-check": {"seconds": 8.0}})  # over 1.5x the expected 5 s
    result = cli("health-report", "--as-of", AT)
    assert result.code == 1, result.stdout
    lines = result.stdout.splitlines()
    assert lines[0].startswith("GSTJOBS WARNING - 0 critical, 1 warning")
    assert "job sla-check" in result.stdout and "over 1.5x" in result.stdout


def test_critical_exits_2_with_json(engine: Engine, cli: Any) -> None:
    ledger(engine)
    with engine.begin() as conn:
        for minutes in (3, 2, 1):
            job_run(
                conn,
                "check-sla-and-overdue",
                status="failed",
                started=AS_OF - timedelta(minutes=minutes),
            )
    result = cli("--json", "health-report", "--as-of", AT, "--hours", "48")
    assert result.code == 2
    doc = result.json()
    assert doc["status"] == "CRITICAL"
    assert doc["automation"]["window_hours"] == 48
    (finding,) = [f for f in doc["findings"] if f["level"] == "CRITICAL"]
    assert finding["subject"] == "job sla-check"
    (sla,) = [j for j in doc["jobs"] if j["cliName"] == "sla-check"]
    assert sla["failureStreak"] == 3


def test_unreachable_database_is_unknown_exit_3(cli: Any) -> None:
    url = "postgresql://postgres@127.0.0.1:1/x"
    result = cli("health-report", env={"DATABASE_URL": url, "GSTJOBS_CONNECT_TIMEOUT": "2"})
    assert result.code == 3
    assert result.stdout.startswith("GSTJOBS UNKNOWN - cannot connect")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    result = cli("health-report", "--json", env={"DATABASE_URL": url})
    assert result.code == 3
    assert result.json()["status"] == "UNKNOWN"


def test_missing_schema_is_unknown(empty_db_url: Any, cli: Any) -> None:
    from tests.conftest import url_text

    result = cli("health-report", env={"DATABASE_URL": url_text(empty_db_url)})
    assert result.code == 3
    assert "gstjobs db upgrade" in result.stderr
