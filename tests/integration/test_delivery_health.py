"""Delivery in health-report: a channel down is CRITICAL; sending is judged apart."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, text

from tests.support import factory
from tests.support.outbox import put
from tests.support.servers import hearing_payload, smtp_server


def test_a_channel_down_is_critical_in_the_health_report(cli: Any, engine: Engine) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        put(conn, t, factory.user(conn, t), "hearing_reminder", hearing_payload())
    with smtp_server(running=False) as down:
        assert cli("-q", "run", "deliver", env=down.env()).code == 1
    report = cli("health-report", "--json")
    doc = report.json()
    assert report.code == 2 and doc["status"] == "CRITICAL"
    (finding,) = [f for f in doc["findings"] if f["subject"] == "channel email"]
    assert finding["level"] == "CRITICAL"
    assert "down since" in finding["message"] and "notify retry" in finding["message"]
    table = cli("health-report")
    assert "channel email" in table.stdout


def test_a_jobs_long_sending_is_a_warning_of_its_own(cli: Any, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO job_runs (job_name, status, trigger, host, pid, started_at, "
                "finished_at, duration_ms, results) VALUES ('send-hearing-reminders', 'success', "
                "'scheduled', 'h', 1, now() - interval '1 minute', now(), 900, "
                "CAST(:r AS jsonb))"
            ),
            {"r": json.dumps({"notificationsSent": 5000, "deliverySeconds": 42.5})},
        )
    doc = cli("health-report", "--json").json()
    (finding,) = [f for f in doc["findings"] if "sending its own messages" in f["message"]]
    assert finding["level"] == "WARNING" and finding["subject"] == "job hearing-reminders"
    # The job's own time (0.9 s) is well within its expected 15 s: no time finding for it.
    assert not [
        f
        for f in doc["findings"]
        if f["subject"] == "job hearing-reminders" and "last run took" in f["message"]
    ]
