"""Settings fuzzing (issue 9): every setting of the README's configuration table given
generated values, through the environment or an ``--env-file`` (which may itself be
missing, hold malformed lines or bytes that are not UTF-8).

Property: the command works, or it exits 78 with one line on stderr that names the
setting (health-report: 3, with its ``GSTJOBS UNKNOWN`` line). Never a traceback, an
"internal error" or a hang; a value the contract calls valid must let every command
work (no later run that fails or overflows); one it calls invalid is refused at start,
whatever the command.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from tests.conftest import CliResult
from tests.faults.checks import explain, lines
from tests.faults.conftest import Fuzz, budget
from tests.faults.settings_model import (
    CHANNEL_DOWN,
    COMMANDS,
    DOWN,
    EITHER,
    INVALID,
    MALFORMED_LINES,
    VALID,
    Fault,
    Stage,
    fault,
    faults,
)
from tests.support.servers import hearing_payload, queue, smtp_server, whatsapp_server

_serial = itertools.count()


@dataclass(frozen=True)
class Case:
    faults: tuple[Fault, ...]
    command: tuple[str, ...]
    via_file: bool
    file_fault: str | None
    """None, "missing", "latin1", or a malformed line appended to the file."""

    @property
    def env(self) -> dict[str, str]:
        return {k: v for f in self.faults for k, v in f.env}


@dataclass
class Settings:
    fuzz: Fuzz
    stage: Stage
    base: dict[str, str]
    email_user: Any
    whatsapp_user: Any
    tenant: Any

    def __repr__(self) -> str:
        return f"Settings(stand-ins on ports {self.stage.smtp_port}, {self.stage.whatsapp_url})"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # Hypothesis prints this
        p.text(repr(self))

    def queue_messages(self) -> None:
        """One email and one WhatsApp message due now, so delivery settings are used;
        urgent, so a quiet-hours setting never holds them whatever the hour."""
        engine = create_engine(self.fuzz.url, poolclass=NullPool)
        with engine.begin() as conn:
            for user, channel in ((self.email_user, "email"), (self.whatsapp_user, "whatsapp")):
                queue(
                    conn,
                    self.tenant,
                    user,
                    "hearing_reminder",
                    hearing_payload(),
                    channel=channel,
                    urgency=2,
                )
        engine.dispose()


@pytest.fixture(scope="module")
def world(fuzz: Fuzz) -> Iterator[Settings]:
    with smtp_server() as smtp, whatsapp_server() as whatsapp:
        engine = create_engine(fuzz.url, poolclass=NullPool)
        with engine.begin() as conn:
            tenant, email_user, whatsapp_user = conn.execute(
                text(
                    "SELECT tenant_id, min(id::text)::uuid, max(id::text)::uuid FROM users "
                    "GROUP BY tenant_id ORDER BY tenant_id LIMIT 1"
                )
            ).one()
            conn.execute(
                text(
                    "UPDATE users SET phone = '+919800000001', whatsapp_opt_in = true, "
                    "is_active = true WHERE id = :u"
                ),
                {"u": whatsapp_user},
            )
            conn.execute(text("UPDATE users SET is_active = true WHERE id = :u"), {"u": email_user})
        engine.dispose()
        base = {**smtp.env(), **whatsapp.env(), "WHATSAPP_TIMEOUT": "5"}
        stage = Stage(fuzz.world.database_url, smtp.port, base["WHATSAPP_API_URL"])
        yield Settings(fuzz, stage, base, email_user, whatsapp_user, tenant)


@st.composite
def cases(draw: st.DrawFn, stage: Stage) -> Case:
    chosen = draw(st.lists(faults(stage), min_size=1, max_size=3))
    seen: set[str] = set()
    unique = []
    for f in chosen:  # one value per variable, one fault per group of settings
        # (SMTP_USERNAME alone and SMTP_PASSWORD alone, drawn together, are a valid pair)
        touched = {k for k, _ in f.env} | set(f.names)
        if not seen & touched:
            unique.append(f)
            seen |= touched
    via_file = draw(st.booleans())
    file_fault = None
    if via_file:
        file_fault = draw(
            st.one_of(
                st.none(),
                st.none(),
                st.sampled_from(["missing", "latin1"]),
                st.sampled_from(MALFORMED_LINES),
            )
        )
    return Case(tuple(unique), draw(st.sampled_from(COMMANDS)), via_file, file_fault)


def _fits_a_file(value: str) -> bool:
    """Single quotes keep a .env value literal; these values can go in one."""
    return not any(c in value for c in "'\n\r\\$#\"") and value == value.strip()


def run_case(world: Settings, case: Case) -> tuple[list[str], CliResult, Fault | None, int]:
    """Run the case's command; returns argv, result, the file fault (if any), its line."""
    env: dict[str, str | None] = {**world.base, **case.env}
    args: list[str] = []
    file_fault: Fault | None = None
    line = 0
    if case.via_file:
        name = f"fuzz-{next(_serial)}.env"
        in_file = {k: v for k, v in case.env.items() if _fits_a_file(v)}
        body = "".join(f"{k}='{v}'\n" for k, v in in_file.items())
        if case.file_fault == "latin1":
            data = b"# r\xe9glages du cabinet\n" + body.encode()
            file_fault = Fault((), INVALID, (name,))
        elif case.file_fault == "missing":
            data = None
            in_file = {}
            file_fault = Fault((), INVALID, (name,))
        elif case.file_fault:
            body += case.file_fault + "\n"
            line = body.count("\n")
            data = body.encode()
            file_fault = Fault((), INVALID, (name,))
        else:
            data = body.encode()
        if data is not None:
            (world.fuzz.directory / name).write_bytes(data)
        for k in in_file:
            env[k] = None  # from the file only (the environment would win)
        args += ["--env-file", name]
    args += list(case.command)
    if case.command[0] == "run":
        # Each case is its own attempt: a second scheduled run in the same minute's slot
        # would rightly be skipped (exit 0, nothing tried), whatever the settings.
        args += ["--trigger", "manual"]
    world.queue_messages()
    return args, world.fuzz.run(args, env), file_fault, line


def expected_codes(case: Case, every: list[Fault]) -> set[int]:
    no_smtp = any(dict(f.env).get("SMTP_HOST", "x").strip() == "" for f in every)
    # Without SMTP_HOST email goes to files and the other SMTP settings are not read.
    unread = [
        f for f in every if no_smtp and f.env and all(k.startswith("SMTP_") for k, _ in f.env)
    ]
    verdicts = {f.verdict for f in every if f not in unread or "SMTP_HOST" in dict(f.env)}
    if INVALID in verdicts:
        codes = {78}
    elif DOWN in verdicts:
        codes = {69} | ({78} if EITHER in verdicts else set())
    else:
        codes = {0} | ({78} if EITHER in verdicts else set())
        if CHANNEL_DOWN in verdicts and case.command in (("run", "deliver"), ("notify", "send")):
            codes = {1} | codes - {0}
    if case.command == ("health-report",):
        codes = {3 if c in (69, 78) else c for c in codes} | ({1, 2} if 0 in codes else set())
    return codes


def check_settings(
    case: Case, args: list[str], r: CliResult, file_fault: Fault | None, line: int
) -> None:
    every = [*case.faults, *([file_fault] if file_fault else [])]
    where = explain(args, r) + f"\n  settings: {every}"
    err = lines(r.stderr)
    assert "Traceback" not in r.stderr, "a traceback:" + where
    assert "internal error" not in r.stderr, "an internal error (a bug):" + where
    assert r.code in expected_codes(case, every), "not the exit code the settings call for:" + where
    if r.code not in (0, 1, 2):
        assert len(err) == 1 and err[0].startswith("gstjobs: "), "not one error line:" + where
    named = [n for f in every if f.verdict in (INVALID, EITHER) for n in f.names]
    down = any(f.verdict == DOWN for f in every)
    if r.code == 78 or (r.code == 3 and not down):
        assert any(n in r.stderr for n in named), "the error does not name the setting:" + where
    if r.code == 78 and file_fault and line and len(named) == 1:
        assert f"line {line}" in r.stderr or f":{line}" in r.stderr, "name the line:" + where
    if r.code == 3:
        out = lines(r.stdout)
        assert len(out) == 1 and out[0].startswith("GSTJOBS UNKNOWN - "), "no UNKNOWN:" + where


@budget(fast=12, faults=500)
@given(data=st.data())
def test_every_setting_works_or_is_refused_by_name(world: Settings, data: st.DataObject) -> None:
    case = data.draw(cases(world.stage), label="case")
    args, result, file_fault, line = run_case(world, case)
    check_settings(case, args, result, file_fault, line)


def _bogus(world: Settings, option: str) -> Fault:
    url = make_url(world.stage.database_url)
    value = url.update_query_dict(dict([option.split("=")])).render_as_string(False)
    return fault("DATABASE_URL", value, INVALID)


UTC = Fault((("GSTJOBS_TIMEZONE", "UTC"),), VALID, ("GSTJOBS_TIMEZONE",))
MINIMAL: dict[str, Callable[[Settings], Case]] = {
    # accepted at start, then a run fails or overflows
    "grace 10^12": lambda w: Case(
        (fault("GSTJOBS_OVERDUE_GRACE_MINUTES", "1000000000000", INVALID),),
        ("run", "sla-check"), False, None,
    ),
    "health window 10^11": lambda w: Case(
        (fault("GSTJOBS_HEALTH_WINDOW_HOURS", "100000000000", INVALID),),
        ("run", "health-check"), False, None,
    ),
    "smtp timeout 10^12": lambda w: Case(
        (fault("SMTP_TIMEOUT", "1000000000000", INVALID),), ("notify", "send"), False, None
    ),
    "time zone of 300 characters": lambda w: Case(
        (fault("GSTJOBS_TIMEZONE", "A" * 300, INVALID),), ("status",), False, None
    ),
    "database url ?bogus=1": lambda w: Case((_bogus(w, "bogus=1"),), ("status",), False, None),
    "database url ?sslmode=bogus": lambda w: Case(
        (_bogus(w, "sslmode=bogus"),), ("status",), False, None
    ),
    # accepted although malformed
    "smtp port 99999": lambda w: Case(
        (fault("SMTP_PORT", "99999", INVALID),), ("notify", "send"), False, None
    ),
    "smtp from @b": lambda w: Case(
        (fault("SMTP_FROM", "@b", INVALID),), ("notify", "send"), False, None
    ),
    "app base url notaurl": lambda w: Case(
        (fault("APP_BASE_URL", "notaurl", INVALID),), ("notify", "send"), False, None
    ),
    "whatsapp api url http://": lambda w: Case(
        (fault("WHATSAPP_API_URL", "http://", INVALID),), ("notify", "send"), False, None
    ),
    "connect timeout 10^12": lambda w: Case(
        (fault("GSTJOBS_CONNECT_TIMEOUT", "1000000000000", INVALID),), ("status",), False, None
    ),
    # the .env file itself
    "env file not utf-8": lambda w: Case((UTC,), ("health-report",), True, "latin1"),
    "env file malformed line": lambda w: Case((UTC,), ("status",), True, MALFORMED_LINES[0]),
    "env file missing": lambda w: Case((UTC,), ("health-report",), True, "missing"),
    # health-report refused at start: exit 3 and its UNKNOWN line
    "health-report with GSTJOBS_TIMEZONE=IST": lambda w: Case(
        (fault("GSTJOBS_TIMEZONE", "IST", INVALID),), ("health-report",), False, None
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(MINIMAL))
def test_minimal_settings_keep_the_contract(world: Settings, name: str) -> None:
    case = MINIMAL[name](world)
    check_settings(case, *run_case(world, case))


def test_a_sender_that_is_set_is_not_told_it_must_be_set(world: Settings) -> None:
    """SMTP_FROM=notanemail: refused, by a message about its syntax, not "must be set"."""
    case = Case((fault("SMTP_FROM", "notanemail", INVALID),), ("status",), False, None)
    args, result, file_fault, line = run_case(world, case)
    check_settings(case, args, result, file_fault, line)
    assert "must be set" not in result.stderr, explain(args, result)


def test_the_base_configuration_delivers(world: Settings) -> None:
    """The baseline the property stands on: the stand-ins and the data are healthy."""
    for command in (("run", "deliver"), ("notify", "send"), ("health-report",)):
        world.queue_messages()
        result = world.fuzz.run(command, world.base)
        allowed = (0, 1, 2) if command == ("health-report",) else (0,)
        assert result.code in allowed, explain(command, result)
        assert "Traceback" not in result.stderr, explain(command, result)
