"""No names, emails or phone numbers in any job output or log line."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text

from gstjobs.jobs import JOBS


def test_no_personal_data_in_output_or_logs(cli: Any, engine: Engine) -> None:
    assert cli("demo", "--tenants", "2").code == 0
    with engine.connect() as conn:
        people = conn.execute(text("SELECT full_name, email, phone FROM users")).fetchall()
    secrets = {value for row in people for value in row if value}
    assert len(secrets) > 10
    outputs = []
    for spec in JOBS:
        for flags in ((), ("--json",), ("-v",)):
            result = cli("run", spec.cli_name, *flags)
            outputs += [result.stdout, result.stderr]
    for command in (("status",), ("history", "--limit", "50"), ("history", "--json")):
        result = cli(*command)
        outputs += [result.stdout, result.stderr]
    everything = "\n".join(outputs)
    leaked = sorted(s for s in secrets if s in everything)
    assert leaked == []
