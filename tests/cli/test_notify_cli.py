"""``gstjobs notify …`` and the notifying jobs through the real command."""

from __future__ import annotations

import email
import email.policy
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from tests.conftest import AS_OF
from tests.support import factory
from tests.support.servers import smtp_server

PERSONAL = ("Asha", "Mehta", "asha@mehta.example", "Vikram", "vikram@mehta.example", "+9198")


def setup_hearing(engine: Engine) -> Any:
    with engine.begin() as conn:
        t = factory.tenant(conn, "Mehta & Associates")
        owner = factory.user(
            conn, t, "admin", name="Asha Mehta", email="asha@mehta.example", phone="+919812345678"
        )
        advocate = factory.user(conn, t, name="Vikram Rao", email="vikram@mehta.example")
        case = factory.case(conn, t, owner=owner, assigned_to=advocate, number="GST/APL/9")
        factory.hearing(conn, t, case, AS_OF + timedelta(hours=3), court_id=factory.court(conn))
    return t


def no_personal_data(*outputs: str) -> None:
    for output in outputs:
        for word in PERSONAL:
            assert word not in output, f"{word!r} printed"


def test_run_sends_over_smtp_and_prints_only_counts(cli: Any, engine: Engine) -> None:
    setup_hearing(engine)
    with smtp_server() as smtp:
        result = cli(
            "run",
            "hearing-reminders",
            "--force",
            "--as-of",
            AS_OF.isoformat(),
            "--json",
            env=smtp.env(),
        )
        assert result.code == 0, result.stderr
        doc = result.json()
        assert doc["job"] == "send-hearing-reminders"
        assert doc["results"]["hearingsFound"] == 1
        assert doc["results"]["notificationsQueued"] == 2
        assert doc["results"]["notificationsSent"] == 2
        assert sorted(r for m in smtp.messages for r in m.rcpt_tos) == [
            "asha@mehta.example",
            "vikram@mehta.example",
        ]
    no_personal_data(result.stdout, result.stderr)


def test_without_smtp_messages_become_eml_files(cli: Any, engine: Engine, tmp_path: Path) -> None:
    setup_hearing(engine)
    outbox = tmp_path / "outbox"
    result = cli(
        "-v",
        "run",
        "hearing-reminders",
        "--force",
        "--as-of",
        AS_OF.isoformat(),
        env={"GSTJOBS_OUTBOX_DIR": str(outbox)},
    )
    assert result.code == 0, result.stderr
    files = sorted(outbox.glob("*/notification-*.eml"))  # one folder per database
    assert len(files) == 2
    assert {oct(f.stat().st_mode & 0o777) for f in files} == {"0o600"}
    assert oct(files[0].parent.stat().st_mode & 0o777) == "0o700"
    mail = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert mail["Subject"].startswith("Hearing Reminder: GST/APL/9 - ")
    assert "written to" in result.stderr  # -v logs the ids and file names only
    no_personal_data(result.stdout, result.stderr)


def test_list_shows_the_queue_and_send_drains_it(cli: Any, engine: Engine) -> None:
    tenant = setup_hearing(engine)
    with smtp_server(running=False) as smtp:
        down = cli(
            "run",
            "hearing-reminders",
            "--force",
            "--as-of",
            AS_OF.isoformat(),
            "--json",
            env=smtp.env(),
        )
        assert down.code == 0
        assert down.json()["results"]["channelsDown"] == ["email"]
        listed = cli("notify", "list", "--json", "--tenant", str(tenant), env=smtp.env())
        assert listed.code == 0, listed.stderr
        doc = listed.json()
        assert doc["counts"] == {"pending": 2, "sent": 0, "failed": 0}
        first = doc["notifications"][0]
        assert {
            "id",
            "tenantId",
            "userId",
            "channel",
            "template",
            "status",
            "attempts",
            "nextAttemptAt",
            "lastError",
        } <= set(first)
        assert (first["template"], first["status"], first["attempts"]) == (
            "hearing_reminder",
            "pending",
            0,  # a channel that is down spends no attempt
        )
        email = next(c for c in doc["channels"] if c["channel"] == "email")
        assert (email["state"], email["transport"]) == ("down", f"SMTP 127.0.0.1:{smtp.port}")
        assert "unusable" in email["reason"]
        assert any("unusable" in (n["lastError"] or "") for n in doc["notifications"])
        table = cli("notify", "list", "--status", "pending")
        assert table.code == 0 and "hearing_reminder" in table.stdout
        no_personal_data(listed.stdout, table.stdout)
        smtp.start()
        sent = cli("notify", "send", "--json", env=smtp.env())
        assert sent.code == 0, sent.stderr
        doc = sent.json()
        assert (doc["job"], doc["status"], doc["tenants"]) == (
            "deliver-notifications",
            "success",
            1,
        )
        assert doc["results"]["notificationsSent"] == 2
        again = cli("notify", "send", "--json", env=smtp.env())
        assert again.json()["results"]["notificationsSent"] == 0
        assert len(smtp.messages) == 2
    done = cli("notify", "list", "--json", "--status", "sent").json()
    assert [n["attempts"] for n in done["notifications"]] == [1, 1]
    no_personal_data(sent.stdout, done.__repr__())


def test_bad_options_are_one_line_usage_errors(cli: Any) -> None:
    for args in (
        ("notify", "list", "--status", "lost"),
        ("notify", "send", "--tenant", "not-a-uuid"),
        ("notify", "send", "--tenant", str(uuid.uuid4())),
    ):
        result = cli(*args)
        assert result.code == 2, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_list_says_when_it_shows_fewer_rows_than_match(cli: Any, engine: Engine) -> None:
    with engine.begin() as conn:
        t = factory.tenant(conn)
        u = factory.user(conn, t)
        conn.execute(
            text(
                "INSERT INTO notifications (tenant_id, user_id, channel, template, dedup_key, "
                "status) SELECT :t, :u, 'email', 'x', 'k' || i, "
                "CASE WHEN i <= 7 THEN 'failed' ELSE 'pending' END "
                "FROM generate_series(1, 57) i"
            ),
            {"t": t, "u": u},
        )
    human = cli("notify", "list")
    assert human.code == 0 and "showing 50 of 57; --limit N for more" in human.stdout
    doc = cli("notify", "list", "--json").json()
    assert (len(doc["notifications"]), doc["total"]) == (50, 57)
    failed = cli("notify", "list", "--json", "--status", "failed").json()
    assert (len(failed["notifications"]), failed["total"]) == (7, 7)
    everything = cli("notify", "list", "--limit", "100")
    assert "showing" not in everything.stdout
    # Narrow: both notes, what is left out at this width and how many are shown.
    narrow = cli("notify", "list", env={"COLUMNS": "60"})
    words = " ".join(narrow.stdout.split())  # the notes fold at this width
    # when each goes next is kept; an error column with no error in it goes first
    assert "not shown at this width: practice, tries, last error" in words
    queue = words.split("notifications —")[-1]
    assert "next attempt" in queue.split("not shown")[0]
    assert "showing 50 of 57; --limit N for more" in narrow.stdout
