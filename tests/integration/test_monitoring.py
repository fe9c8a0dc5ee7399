"""Monitoring output that tools read (perfdata, Prometheus), doctor, prune and roles
(issue 14)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from gstjobs.jobs import JOBS
from gstjobs.ops import doctor
from tests.conftest import url_text
from tests.support import factory

# ---------------------------------------------------------------- perfdata
# Written from the monitoring-plugins development guidelines, independently of gstjobs:
# 'label'=value[UOM];[warn];[crit];[min];[max], labels quoted when they hold spaces or
# quotes, UOM one of s ms us % B KB MB TB c, thresholds as ranges.
_RANGE = r"(@?(~|[-+]?\d+(\.\d+)?)?(:([-+]?\d+(\.\d+)?)?)?)?"
PERF = re.compile(
    r"^(?P<label>'[^'=]+'|[^'= ]+)=(?P<value>[-+]?\d+(\.\d+)?(e[-+]?\d+)?)"
    r"(?P<uom>s|ms|us|%|B|KB|MB|TB|c)?"
    rf"(;(?P<warn>{_RANGE})(;(?P<crit>{_RANGE})(;(?P<min>[-+]?\d+(\.\d+)?)?"
    r"(;(?P<max>[-+]?\d+(\.\d+)?)?)?)?)?)?$"
)


def _perfdata(line: str) -> dict[str, dict[str, str | None]]:
    assert line.count("|") == 1, "one bar between the text and the performance data"
    text_part, perf = line.split("|")
    assert text_part.strip()
    items = {}
    for item in perf.split():
        m = PERF.match(item)
        assert m, f"not valid performance data: {item!r}"
        items[m.group("label").strip("'")] = m.groupdict()
    return items


def test_health_report_prints_perfdata_a_plugin_parser_reads(cli: Any, engine: Engine) -> None:
    with engine.begin() as conn:
        factory.tenant(conn)
    assert cli("run", "sla-check").code == 0
    result = cli("health-report")
    assert result.code in (0, 1, 2), result.stderr
    first, *rest = result.stdout.splitlines()
    items = _perfdata(first)
    assert {"automation_success_rate", "stale_notifications", "missed_daily_slots"} <= set(items)
    assert items["automation_success_rate"]["uom"] == "%"
    assert items["stale_notifications"]["crit"] == "0"
    duration = items["sla-check_duration"]
    assert duration["uom"] == "s" and duration["warn"] == "7.5" and duration["crit"] == "10"
    # nothing a monitor would read as more performance data in the long output
    assert all("|" not in line for line in rest)
    as_json = cli("health-report", "--json").json()
    assert as_json["perfdata"] == first.split("|")[1].split()


def test_health_report_prints_one_line_per_finding_however_narrow(cli: Any, engine: Engine) -> None:
    """A monitor or a script reads a finding per line: piped output is never folded."""
    with engine.begin() as conn:
        factory.tenant(conn)
    result = cli("health-report", env={"COLUMNS": "40"})
    assert result.code in (0, 1, 2), result.stderr
    _, *rest = result.stdout.splitlines()
    found = cli("health-report", "--json").json()["findings"]
    assert len(found) >= 1
    assert len(rest) == len(found) + 1  # each finding, then the database and moment
    for line, finding in zip(rest, found, strict=False):
        assert line.split()[0] == finding["level"]
    assert max(len(line) for line in rest) > 40  # longer than the width, not folded


# ---------------------------------------------------------------- Prometheus
def test_metrics_are_prometheus_text_and_the_textfile_is_written_whole(
    cli: Any, engine: Engine, tmp_path: Any
) -> None:
    with engine.begin() as conn:
        factory.tenant(conn)
    assert cli("run", "sla-check").code == 0
    assert cli("pause", "hearing-reminders").code == 0
    result = cli("metrics")
    assert result.code == 0, result.stderr
    families = {f.name: f for f in text_string_to_metric_families(result.stdout)}
    # The same families and samples as one JSON document, with --json before or after.
    for args in (("metrics", "--json"), ("--json", "metrics")):
        doc = cli(*args).json()
        assert {m["name"] for m in doc["metrics"]} == set(families)
        for m in doc["metrics"]:
            assert len(m["samples"]) == len(families[m["name"]].samples), m["name"]
    both = cli("metrics", "--json", "--textfile", str(tmp_path / "x.prom"))
    assert both.code == 2 and "leave out --json" in both.stderr
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in families.values()
        for s in f.samples
    }
    assert (
        samples[("gstjobs_job_last_run_outcome", (("job", "sla-check"), ("outcome", "success")))]
        == 1
    )
    assert samples[("gstjobs_job_paused", (("job", "hearing-reminders"),))] == 1
    assert samples[("gstjobs_job_paused", (("job", "sla-check"),))] == 0
    assert ("gstjobs_job_next_slot_timestamp_seconds", (("job", "deliver"),)) in samples
    assert (
        "gstjobs_job_last_run_items",
        (("job", "sla-check"), ("key", "overdueTasks")),
    ) in samples
    target = tmp_path / "gstjobs.prom"
    assert cli("metrics", "--textfile", str(target)).code == 0
    assert list(text_string_to_metric_families(target.read_text()))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("gstjobs.prom")] == [
        "gstjobs.prom"
    ]


# ---------------------------------------------------------------- doctor
def test_doctor_findings_are_triggered_and_cleared(cli: Any, engine: Engine) -> None:
    with engine.begin() as conn:
        factory.tenant(conn)
    never = cli("doctor", "--json").json()
    subjects = {f["subject"]: f for f in never["findings"]}
    assert subjects["scheduler"]["level"] == "WARNING"  # nothing scheduled has ever run
    assert cli("run", "sla-check", "--trigger", "scheduled").code == 0
    ran = cli("doctor", "--json").json()
    assert "scheduler" not in {f["subject"] for f in ran["findings"]}
    # cron stopped an hour ago
    with engine.begin() as conn:
        conn.execute(text("UPDATE job_runs SET started_at = started_at - interval '1 hour'"))
    stopped = cli("doctor", "--json")
    assert stopped.code == 2
    assert any(
        f["subject"] == "scheduler" and f["level"] == "CRITICAL" for f in stopped.json()["findings"]
    )
    plain = cli("doctor")
    assert plain.stdout.startswith("GSTJOBS DOCTOR CRITICAL")
    assert all(" -> " in line for line in plain.stdout.splitlines()[1:])
    # a paused job is said, with the command that resumes it
    assert cli("pause", "deliver", "--reason", "provider maintenance").code == 0
    paused = cli("doctor", "--json").json()
    assert any(f["fix"] == "gstjobs resume deliver" for f in paused["findings"])


def test_doctor_says_how_it_knows_the_embedded_server_runs_unattended(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def embedded_finding() -> str:
        with engine.connect() as conn:
            found = doctor.examine(
                conn, JOBS, ZoneInfo("Asia/Kolkata"), host_now=datetime.now(UTC), embedded=True
            )
        (finding,) = [f for f in found if f.subject == "database"]
        return finding.line()

    monkeypatch.setattr(doctor.os, "isatty", lambda fd: False)
    monkeypatch.delenv("INVOCATION_ID", raising=False)
    piped = embedded_finding()
    assert "no terminal on standard input" in piped and "systemd" not in piped
    assert "docs/operations.md#4-the-settings-file" in piped
    monkeypatch.setenv("INVOCATION_ID", "0123abcd")
    assert "under systemd" in embedded_finding()


# ---------------------------------------------------------------- prune
def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def test_prune_keeps_what_it_must_and_sums_what_it_deletes(cli: Any, engine: Engine) -> None:
    old, recent = "now() - interval '200 days'", "now() - interval '2 days'"
    with engine.begin() as conn:
        t = factory.tenant(conn)
        u = factory.user(conn, t)
        for status, at in (("success", old), ("failed", old), ("success", recent)):
            conn.execute(
                text(
                    "INSERT INTO job_runs (job_name, status, host, pid, started_at, duration_ms, "
                    f"results) VALUES ('check-sla-and-overdue', :s, 'h', 1, {at}, 100, "
                    "'{\"newlyOverdue\": 3}')"
                ),
                {"s": status},
            )
        conn.execute(
            text(
                "INSERT INTO notifications (tenant_id, user_id, channel, template, dedup_key, "
                f"status, sent_at, created_at) VALUES (:t, :u, 'email', 'x', 'a', 'sent', {old}, "
                f"{old}), (:t, :u, 'email', 'x', 'b', 'pending', NULL, {old})"
            ),
            {"t": t, "u": u},
        )
    looked = cli("prune", "--dry-run", "--json")
    assert looked.code == 0, looked.stderr
    assert looked.json()["results"]["runsPruned"] == 1  # the old success; the failure stays
    assert (
        _count(
            engine,
            "SELECT count(*) FROM job_runs WHERE status <> 'success' OR "
            "started_at > now() - interval '1 day'",
        )
        >= 1
    )
    done = cli("prune", "--json")
    assert done.code == 0, done.stderr
    results = done.json()["results"]
    assert results["runsPruned"] == 1 and results["notificationsPruned"] == 1
    assert _count(engine, "SELECT count(*) FROM notifications WHERE status = 'pending'") == 1
    assert _count(engine, "SELECT count(*) FROM job_runs WHERE status = 'failed'") == 1
    assert _count(engine, "SELECT sum(runs) FROM job_run_rollups") == 1
    assert (
        _count(engine, "SELECT sum(total) FROM job_run_rollup_items WHERE key = 'newlyOverdue'")
        == 3
    )
    assert _count(engine, "SELECT sum(notifications_sent) FROM practice_rollups") == 1
    too_short = cli("prune", "--older-than", "3d")
    assert too_short.code == 2 and "--older-than" in too_short.stderr


def test_prune_keeps_the_events_that_stop_an_open_task_alerting_again(
    cli: Any, engine: Engine
) -> None:
    """ "Once per task" rests on the event row: prune must not forget it while the task
    is open, or the next sla-check raises the same breach (and its rules) again."""
    with engine.begin() as conn:
        t = factory.tenant(conn)
        open_task = factory.task(
            conn, t, due=None, priority="Critical", created=datetime.now(UTC) - timedelta(days=3)
        )
        done_task = factory.task(
            conn, t, due=None, priority="Critical", created=datetime.now(UTC) - timedelta(days=3)
        )
    first = cli("run", "sla-check", "--trigger", "manual", "--json")
    assert first.code == 0 and first.json()["results"]["slaViolations"] == 2, first.stdout
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE tasks SET status = 'Completed', completed_at = now() WHERE id = :id"),
            {"id": done_task},
        )
        conn.execute(
            text("UPDATE automation_events SET processed_at = now() - interval '200 days'")
        )
    pruned = cli("prune", "--json")
    assert pruned.code == 0, pruned.stderr
    assert pruned.json()["results"]["eventsPruned"] == 1  # the completed task's only
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT entity_id FROM automation_events")).scalars().all()
    assert kept == [open_task]
    again = cli("run", "sla-check", "--trigger", "manual", "--json")
    assert again.code == 0 and again.json()["results"]["slaViolations"] == 0, again.stdout


def test_prune_never_waits_for_a_row_a_running_job_holds(cli: Any, engine: Engine) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        u = factory.user(conn, t)
        conn.execute(
            text(
                "INSERT INTO notifications (tenant_id, user_id, channel, template, dedup_key, "
                "status, sent_at) SELECT :t, :u, 'email', 'x', k, 'sent', "
                "now() - interval '200 days' FROM (VALUES ('a'), ('b')) AS v (k)"
            ),
            {"t": t, "u": u},
        )
    holder = engine.connect()
    holder.begin()
    holder.execute(text("SELECT 1 FROM notifications WHERE dedup_key = 'a' FOR UPDATE"))
    try:
        done = cli("prune", "--json", timeout=60)
    finally:
        holder.rollback()
        holder.close()
    assert done.code == 0, done.stderr
    assert done.json()["results"]["notificationsPruned"] == 1  # 'b'; 'a' is held, left


# ---------------------------------------------------------------- roles
@pytest.fixture
def roles(engine: Engine, db_url: URL, cli: Any) -> Any:
    suffix = (db_url.database or "x")[-8:]
    job, monitor = f"job_{suffix}", f"monitor_{suffix}"
    printed = cli("db", "roles", "--print", "--job-role", job, "--monitor-role", monitor)
    assert printed.code == 0, printed.stderr
    with engine.begin() as conn:
        conn.execute(text(f'CREATE ROLE "{job}" LOGIN'))
        conn.execute(text(f'CREATE ROLE "{monitor}" LOGIN'))
        for statement in printed.stdout.splitlines():
            if statement.strip() and not statement.startswith("--"):
                conn.execute(text(statement))
    yield job, monitor
    with engine.begin() as conn:
        for role in (job, monitor):
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))


def test_the_printed_grants_are_enough_and_no_more(
    roles: Any, engine: Engine, db_url: URL, cli: Any
) -> None:
    job, monitor = roles
    with engine.begin() as conn:
        t = factory.tenant(conn)
        factory.task(conn, t, due=datetime.now(UTC) - timedelta(days=1))
    as_job = {"DATABASE_URL": url_text(db_url.set(username=job, password=None))}
    as_monitor = {"DATABASE_URL": url_text(db_url.set(username=monitor, password=None))}
    for job_name in ("sla-check", "deadline-alerts", "deliver", "prune"):
        ran = cli("run", job_name, "--json", env=as_job)
        assert ran.code == 0 and ran.json()["status"] == "success", (job_name, ran.stdout)
    for args in (("status",), ("history",), ("health-report",), ("metrics",), ("doctor",)):
        looked = cli(*args, env=as_monitor)
        assert looked.code in (0, 1, 2), (args, looked.stderr)
        assert "permission denied" not in looked.stderr
    refused = cli("run", "sla-check", env=as_monitor)
    assert refused.code != 0  # the monitoring role cannot run a job


def test_hearings_with_no_outcome_are_chased_by_matter_reference(cli: Any, engine: Engine) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        t = factory.tenant(conn)
        open_case = factory.case(conn, t, number="DRC-01/2025-26/014")
        closed = factory.case(conn, t, number="DRC-01/2024-25/003", status="Closed")
        adjourned_case = factory.case(conn, t, number="APL-01/2025-26/002")
        recent = factory.case(conn, t, number="DRC-01/2025-26/020")
        factory.hearing(conn, t, open_case, now - timedelta(days=3))  # never recorded
        factory.hearing(conn, t, recent, now - timedelta(hours=2))  # within a day: not yet
        factory.hearing(conn, t, closed, now - timedelta(days=5))  # closed matter: let be
        factory.hearing(conn, t, adjourned_case, now - timedelta(days=4))
        factory.hearing(conn, t, adjourned_case, now + timedelta(days=10))  # next date set
    found = cli("health-report", "--json").json()["findings"]
    hearings = [f for f in found if f["subject"].endswith("hearings")]
    assert len(hearings) == 1
    assert hearings[0]["message"].startswith(
        "1 hearing(s) past with no outcome recorded: DRC-01/2025-26/014"
    )
    assert hearings[0]["tenant_id"] == str(t)


def test_values_gstjobs_does_not_know_are_reported_with_what_they_cost(
    cli: Any, engine: Engine
) -> None:
    """An existing database's legacy values (migration 015 keeps them): an upcoming
    hearing 'Listed' gets no reminder, and nothing else would say so."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for table, check in (
            ("hearings", "hearings_status_check"),
            ("tasks", "tasks_priority_check"),
        ):
            conn.execute(text(f"ALTER TABLE {table} DROP CONSTRAINT {check}"))
        t = factory.tenant(conn)
        matter = factory.case(conn, t)
        factory.hearing(conn, t, matter, now + timedelta(days=2), status="Listed")
        factory.hearing(conn, t, matter, now + timedelta(days=9), status="scheduled")
        factory.hearing(conn, t, matter, now - timedelta(days=30), status="Heard")  # past
        factory.hearing(conn, t, matter, now + timedelta(days=3))  # Scheduled: fine
        factory.task(conn, t, due=now, priority="Urgent")
        factory.task(conn, t, due=now, priority="Urgent", status="Completed")  # done: no matter
    found = cli("health-report", "--json").json()["findings"]
    unknown = sorted(f["message"] for f in found if f["subject"].endswith("DATA_UNKNOWN"))
    assert unknown == [
        "1 row(s) with a task priority gstjobs does not know (Urgent): no SLA check; "
        "use one of Critical, High, Medium, Low",
        "2 row(s) with a hearing status gstjobs does not know (Listed, scheduled): "
        "no reminder; use one of Scheduled, Attended, Adjourned, Missed, Cancelled",
    ]
