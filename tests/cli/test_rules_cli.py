"""``gstjobs rules validate`` and ``gstjobs rules list`` through the real command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from tests.support import factory

GOOD = {
    "name": "Escalate Critical reply tasks two days overdue to the case owner",
    "trigger_event": "task_overdue",
    "conditions": {"priority": "Critical", "days_overdue": {"gte": 2}},
    "actions": [
        {"type": "escalate", "reassign_to": "case_owner"},
        {"type": "notify", "recipient": "case_owner", "channel": "email"},
    ],
}


def write(tmp_path: Path, doc: Any) -> str:
    path = tmp_path / "rule.json"
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return str(path)


def test_validate_good_file(cli: Any, tmp_path: Path) -> None:
    result = cli("rules", "validate", write(tmp_path, GOOD), database=False)
    assert (result.code, result.stdout.strip(), result.stderr) == (0, "valid", "")
    result = cli("rules", "validate", write(tmp_path, [GOOD, GOOD]), "--json", database=False)
    assert result.code == 0
    assert result.json() == {"valid": True, "file": str(tmp_path / "rule.json"), "rules": 2}


def test_validate_bad_file_names_the_field_in_one_line(cli: Any, tmp_path: Path) -> None:
    bad = {**GOOD, "actions": [{"type": "notify", "recipient": "partner"}]}
    result = cli("rules", "validate", write(tmp_path, bad), database=False)
    assert result.code == 2
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert "actions[0].recipient must be one of assignee, case_owner, admins" in line
    result = cli("rules", "validate", write(tmp_path, bad), "--json", database=False)
    assert result.code == 2
    doc = result.json()  # the boundary's error response
    assert doc["success"] is False
    assert "actions[0].recipient" in doc["error"]


def test_validate_not_json_or_missing(cli: Any, tmp_path: Path) -> None:
    result = cli("rules", "validate", write(tmp_path, "{oops"), database=False)
    assert result.code == 2 and "is not JSON" in result.stderr
    result = cli("rules", "validate", str(tmp_path / "nope.json"), database=False)
    assert result.code == 2 and "cannot read" in result.stderr


def test_list_shows_validity_per_tenant(engine: Engine, cli: Any) -> None:
    with engine.begin() as conn:
        t, other = factory.tenant(conn), factory.tenant(conn)
        good = factory.rule(conn, t, "task_overdue", GOOD["conditions"], GOOD["actions"])
        bad = factory.rule(conn, t, "sla_violation", {}, [{"type": "escalate", "reassign": 1}])
        factory.rule(conn, other, "sla_violation", {}, [{"type": "notify", "recipient": "admins"}])
    result = cli("rules", "list", "--tenant", str(t), "--json")
    assert result.code == 0, result.stderr
    got = {r["id"]: r for r in result.json()["rules"]}
    assert set(got) == {str(good), str(bad)}
    assert got[str(good)]["valid"] is True
    assert got[str(bad)]["problem"].startswith("actions[0].reassign must be true or false")
    human = cli("rules", "list")
    assert human.code == 0 and "reassign must be true or false" in human.stdout


def test_list_names_a_rule_no_decoder_can_read_in_one_line(engine: Engine, cli: Any) -> None:
    from sqlalchemy import text

    with engine.begin() as conn:
        t = factory.tenant(conn)
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(
            text(
                "INSERT INTO automation_rules (tenant_id, name, trigger_event, conditions) "
                "VALUES (:t, 'Deep', 'task_overdue', CAST(:c AS jsonb))"
            ),
            {"t": t, "c": '{"a": ' + "[" * 3000 + "]" * 3000 + "}"},
        )
    listed = cli("rules", "list", "--json")
    assert listed.code == 0, listed.stderr
    (rule,) = listed.json()["rules"]
    assert "nested too deeply" in (rule.get("problem") or "")
    assert cli("rules", "list").code == 0


def test_validate_refuses_a_file_no_decoder_can_read(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text(
        '{"name": "x", "trigger_event": "task_overdue", "conditions": '
        + "[" * 3000
        + "]" * 3000
        + "}"
    )
    result = cli("rules", "validate", str(path))
    assert result.code == 2 and "nested too deeply" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_line_break_in_what_a_message_quotes_stays_one_line(cli: Any, tmp_path: Path) -> None:
    """A file name or a rule field holding a carriage return or line break: the error
    is still one line (found by the long CLI fuzz: `rules validate $'\\r'`)."""
    missing = cli("rules", "validate", "\r", database=False)
    assert (
        missing.code == 2
        and missing.stderr == "gstjobs: cannot read \\r: No such file or directory\n"
    )
    rule = {
        "name": "r",
        "trigger_event": "task_overdue",
        "conditions": {"a\nb": 1},
        "actions": [{"type": "escalate"}],
    }
    (tmp_path / "r.json").write_text(json.dumps(rule))
    bad = cli("rules", "validate", "r.json", database=False)
    assert bad.code == 2 and bad.stderr.count("\n") == 1
    assert bad.stderr.startswith("gstjobs: r.json: conditions.a\\nb is not a field")
