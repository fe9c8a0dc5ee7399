"""Automation health (the seed's HealthMetrics) at every threshold, and the
automation-health-check job's alerts to admins."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, text

from gstjobs.config import Settings
from gstjobs.health.automation import AutomationHealth, automation_health, merge_metrics
from gstjobs.notify.templates import Envelope, render
from tests.conftest import AS_OF
from tests.support import factory
from tests.support.automation import logs, rows, rule_created
from tests.support.jobs import run_job

NOTIFY = [{"type": "notify", "recipient": "admins"}]
RECENT = AS_OF - timedelta(hours=1)


def health(engine: Engine, tenants: list[UUID], hours: int = 24) -> AutomationHealth:
    with engine.connect() as conn:
        return automation_health(conn, tenants, AS_OF, hours)


def tenant_with_rule(
    engine: Engine, success: int, failed: int, name: str = "R"
) -> tuple[UUID, UUID]:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        r = factory.rule(conn, t, "task_overdue", {}, NOTIFY, name=name)
        rule_created(conn, r, AS_OF - timedelta(days=10))
        logs(conn, t, r, at=RECENT, success=success, failed=failed, rule_name=name)
    return t, r


def test_failure_rate_19_percent_is_healthy_21_percent_is_degraded_and_critical(
    engine: Engine,
) -> None:
    t19, _ = tenant_with_rule(engine, 81, 19)
    t21, r21 = tenant_with_rule(engine, 79, 21)
    m = health(engine, [t19, t21]).metrics()
    assert [d["rule_id"] for d in m["degraded_rules"]] == [str(r21)]
    assert m["degraded_rules"][0]["failure_rate"] == 21.0
    assert m["critical_rules"] == [str(r21)]
    assert health(engine, [t19]).level == "INFO"  # 81% overall is below 95%, no rule critical
    assert health(engine, [t21]).level == "CRITICAL"


def test_exactly_20_percent_is_not_degraded(engine: Engine) -> None:
    t, _ = tenant_with_rule(engine, 80, 20)
    m = health(engine, [t]).metrics()
    assert m["degraded_rules"] == [] and m["critical_rules"] == []


def test_overall_success_94_percent_is_info_96_is_ok(engine: Engine) -> None:
    t94, _ = tenant_with_rule(engine, 94, 6)
    t96, _ = tenant_with_rule(engine, 96, 4)
    low, high = health(engine, [t94]), health(engine, [t96])
    assert (low.metrics()["success_rate"], low.level) == (94.0, "INFO")
    assert (high.metrics()["success_rate"], high.level) == (96.0, "OK")
    assert [f.level for f in low.findings()] == ["INFO"]


def test_inactive_after_48_hours_counting_from_last_run_or_creation(engine: Engine) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        ran_47 = factory.rule(conn, t, "task_overdue", {}, NOTIFY, name="ran 47h ago")
        ran_49 = factory.rule(conn, t, "task_overdue", {}, NOTIFY, name="ran 49h ago")
        new_47 = factory.rule(conn, t, "task_overdue", {}, NOTIFY, name="created 47h ago")
        new_49 = factory.rule(conn, t, "task_overdue", {}, NOTIFY, name="created 49h ago")
        off = factory.rule(conn, t, "task_overdue", {}, NOTIFY, is_active=False, name="off")
        for r in (ran_47, ran_49, off):
            rule_created(conn, r, AS_OF - timedelta(days=30))
        rule_created(conn, new_47, AS_OF - timedelta(hours=47))
        rule_created(conn, new_49, AS_OF - timedelta(hours=49))
        logs(conn, t, ran_47, at=AS_OF - timedelta(hours=47), success=1)
        logs(conn, t, ran_49, at=AS_OF - timedelta(hours=49), success=1)
    h = health(engine, [t])
    m = h.metrics()
    assert sorted(m["inactive_rules"]) == sorted([str(ran_49), str(new_49)])
    assert {d["rule_name"] for d in m["inactive_rule_details"]} == {
        "ran 49h ago",
        "created 49h ago",
    }
    assert m["total_executions"] == 0  # both runs are older than the 24 h window
    assert m["success_rate"] == 100.0
    assert h.level == "WARNING"
    messages = " ".join(f.message for f in h.findings())
    assert "has not executed for 49 h" in messages and "has never executed for 49 h" in messages
    # A 72-hour window sees the 47- and 49-hour-old runs.
    assert health(engine, [t], hours=72).metrics()["total_executions"] == 2


def test_window_edges(engine: Engine) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        r = factory.rule(conn, t, "task_overdue", {}, NOTIFY)
        logs(conn, t, r, at=AS_OF - timedelta(hours=24), success=1)  # outside (window is open)
        logs(conn, t, r, at=AS_OF - timedelta(hours=23, minutes=59), success=1)
        logs(conn, t, r, at=AS_OF, success=1)
        logs(conn, t, r, at=AS_OF + timedelta(seconds=1), failed=1)  # after as-of: not yet
    assert health(engine, [t]).metrics()["total_executions"] == 2


def admins(engine: Engine, t: UUID) -> tuple[UUID, UUID]:
    with engine.begin() as conn:
        active = factory.user(conn, t, "admin")
        factory.user(conn, t, "admin", is_active=False)
        factory.user(conn, t, "advocate")
        return active, t


def test_health_check_job_alerts_each_tenants_admins_once_a_day(
    engine: Engine, settings: Settings
) -> None:
    sick, sick_rule = tenant_with_rule(engine, 7, 3, name="Flaky rule")
    well, _ = tenant_with_rule(engine, 10, 0)
    sick_admin, _ = admins(engine, sick)
    admins(engine, well)
    outcome = run_job(settings, "health-check", as_of=AS_OF)
    assert outcome.status == "success"
    r = outcome.results
    for key in (
        "total_executions",
        "successful_executions",
        "failed_executions",
        "success_rate",
        "inactive_rules",
        "degraded_rules",
        "level",
    ):
        assert key in r
    assert (r["total_executions"], r["failed_executions"], r["success_rate"]) == (20, 3, 85.0)
    assert r["level"] == "CRITICAL"
    assert r["degraded_rules"] == [
        {
            "rule_id": str(sick_rule),
            "rule_name": "Flaky rule",
            "failure_rate": 30.0,
            "executions": 10,
        }
    ]
    (n,) = rows(engine, "SELECT * FROM notifications")
    assert (n.tenant_id, n.user_id, n.template, n.channel) == (
        sick,
        sick_admin,
        "health_alert",
        "email",
    )
    assert set(n.payload) == {"level", "window_hours", "findings", "matters", "metrics"}
    assert n.payload["matters"] == []
    assert n.payload["level"] == "CRITICAL" and n.payload["window_hours"] == 24
    assert n.payload["findings"][0]["level"] == "CRITICAL"
    assert n.payload["metrics"]["total_executions"] == 10  # the tenant's own figures only
    # Again the same local day: nothing new. Days later, both tenants' rules are idle
    # (over 48 h): a WARNING alert to each tenant's admin.
    assert (
        run_job(settings, "health-check", as_of=AS_OF + timedelta(hours=5)).results[
            "notificationsQueued"
        ]
        == 0
    )
    later = run_job(settings, "health-check", as_of=AS_OF + timedelta(days=3))
    assert (later.results["level"], later.results["notificationsQueued"]) == ("WARNING", 2)
    assert len(rows(engine, "SELECT id FROM notifications")) == 3


def test_per_tenant_merge_matches_the_single_run(engine: Engine, settings: Settings) -> None:
    a, _ = tenant_with_rule(engine, 79, 21)
    b, _ = tenant_with_rule(engine, 100, 0)
    whole = run_job(settings, "health-check", as_of=AS_OF).results
    parts: list[dict[str, Any]] = [
        run_job(settings, "health-check", as_of=AS_OF, tenants=(t,)).results for t in (a, b)
    ]
    merged = merge_metrics(parts)
    for key in (
        "total_executions",
        "successful_executions",
        "failed_executions",
        "success_rate",
        "degraded_rules",
        "inactive_rules",
        "level",
        "window_hours",
    ):
        assert merged[key] == whole[key], key
    assert (merged["success_rate"], merged["level"]) == (89.5, "CRITICAL")
    # Merged INFO comes from the combined rate, not from any one tenant's.
    info = merge_metrics(
        [
            {
                "total_executions": 10,
                "successful_executions": 9,
                "critical_rules": [],
                "inactive_rules": [],
                "degraded_rules": [],
                "level": "INFO",
                "window_hours": 24,
            },
            {
                "total_executions": 90,
                "successful_executions": 90,
                "critical_rules": [],
                "inactive_rules": [],
                "degraded_rules": [],
                "level": "OK",
                "window_hours": 24,
            },
        ]
    )
    assert (info["success_rate"], info["level"], info["window_hours"]) == (99.0, "OK", 24)


def test_admins_daily_findings_include_the_matters_once_a_day(
    engine: Engine, settings: Settings
) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn, "Iyer & Rao Associates")
        admin = factory.user(conn, t, "admin")
        factory.user(conn, t, "admin", is_active=False)
        factory.user(conn, t, "advocate")
        heard = factory.case(conn, t, number="DRC-01/2026-27/0031")
        factory.hearing(conn, t, heard, AS_OF - timedelta(days=2))  # outcome never recorded
        moved = factory.case(conn, t, number="DRC-01/2026-27/0040")
        factory.hearing(conn, t, moved, AS_OF - timedelta(days=9))  # a later date was set
        factory.hearing(conn, t, moved, AS_OF + timedelta(days=5))
        recent = factory.case(conn, t, number="DRC-01/2026-27/0050")
        factory.hearing(conn, t, recent, AS_OF - timedelta(hours=20))  # not yet a day old
        shut = factory.case(conn, t, number="SHUT/1", status="Closed")
        factory.hearing(conn, t, shut, AS_OF - timedelta(days=3))  # closed: left alone
        conn.execute(
            text(
                "INSERT INTO proceedings (tenant_id, case_id, kind, issue_date) "
                "VALUES (:t, :c, 'SCN_S73', DATE '2026-01-02')"
            ),
            {"t": t, "c": moved},
        )
        quiet = factory.tenant(conn, "Quiet Chambers")
        factory.user(conn, quiet, "admin")
        factory.hearing(conn, quiet, factory.case(conn, quiet), AS_OF + timedelta(days=1))
    outcome = run_job(settings, "health-check", as_of=AS_OF)
    assert outcome.status == "success", outcome.error
    assert (outcome.results["level"], outcome.results["matterFindings"]) == ("OK", 2)
    (n,) = rows(engine, "SELECT * FROM notifications")
    assert (n.tenant_id, n.user_id, n.template) == (t, admin, "health_alert")
    assert n.payload["level"] == "WARNING" and n.payload["findings"] == []
    messages = [m["message"] for m in n.payload["matters"]]
    assert len(messages) == 2
    assert messages[0].startswith("1 hearing(s) past with no outcome recorded: DRC-01/2026-27/0031")
    assert messages[1].startswith("1 open proceeding(s) whose statutory dates cannot be computed")
    assert "DRC-01/2026-27/0040 (SCN-S73: " in messages[1]  # DATA_MISSING, by matter
    rendered = render("health_alert", n.payload, Envelope(1, "A", "F", "Asia/Kolkata", AS_OF, "x"))
    assert rendered.subject.startswith("[WARNING] Daily health check: 2 findings (2 about matters)")
    assert "Matters to record:\n- [WARNING] 1 hearing(s) past" in rendered.text
    # A second run the same day tells no one again; nor is the quiet practice told anything.
    again = run_job(settings, "health-check", as_of=AS_OF + timedelta(hours=5))
    assert (again.results["matterFindings"], again.results["notificationsQueued"]) == (2, 0)
    assert len(rows(engine, "SELECT id FROM notifications")) == 1
