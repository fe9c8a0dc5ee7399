"""Meta-tests that keep the docs honest: commands, jobs, settings and schedules."""

from __future__ import annotations

import re
from pathlib import Path

import typer
from typer.main import get_command

from gstjobs.cli import app
from gstjobs.config import load_settings
from gstjobs.jobs import JOBS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def _commands() -> list[tuple[str, object]]:
    out = []
    root = get_command(app)
    ctx = typer.Context(root)
    for name in root.list_commands(ctx):  # type: ignore[attr-defined]
        cmd = root.get_command(ctx, name)  # type: ignore[attr-defined]
        out.append((name, cmd))
        if hasattr(cmd, "list_commands"):
            sub_ctx = typer.Context(cmd)
            for sub in cmd.list_commands(sub_ctx):
                out.append((f"{name} {sub}", cmd.get_command(sub_ctx, sub)))
    return out


def test_every_command_has_help_and_a_readme_entry() -> None:
    commands = _commands()
    assert {
        "run",
        "status",
        "history",
        "health-report",
        "db upgrade",
        "db status",
        "demo",
        "rules list",
        "rules validate",
        "notify send",
        "notify list",
        "analytics",
        "analytics backfill",
    } <= {name for name, _ in commands}
    for name, cmd in commands:
        assert (getattr(cmd, "help", None) or "").strip(), f"{name} has no help text"
        assert f"gstjobs {name}" in README, f"README has no entry for gstjobs {name}"


def test_committed_schedules_are_what_the_registry_generates() -> None:
    """crontab.example and deploy/systemd/ are generated (gstjobs schedule); a job added
    to the registry without regenerating them fails here."""
    from gstjobs.schedule import Install, crontab, systemd_units

    settings = load_settings({})
    deadlines = {s.cli_name: settings.deadline_for(s.cli_name, s.max_seconds) for s in JOBS}
    assert (ROOT / "crontab.example").read_text() == crontab(JOBS, Install())
    units = systemd_units(JOBS, Install(), deadlines)
    committed = {p.name: p.read_text() for p in (ROOT / "deploy" / "systemd").iterdir()}
    assert committed == units
    for spec in JOBS:
        assert f"`{spec.cli_name}`" in README and f"`{spec.name}`" in README


def test_every_timer_is_a_calendar_systemd_accepts() -> None:
    import shutil
    import subprocess

    from gstjobs.schedule import on_calendar

    assert shutil.which("systemd-analyze"), "systemd-analyze checks the timers' OnCalendar"
    for spec in JOBS:
        spec_calendar = on_calendar(spec.schedule, "Asia/Kolkata")
        done = subprocess.run(
            ["systemd-analyze", "calendar", spec_calendar], capture_output=True, text=True
        )
        assert done.returncode == 0, (spec.cli_name, done.stderr)


def test_the_makefile_runs_every_job_from_the_registry() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "schedule jobs" in makefile


def test_every_setting_read_is_documented() -> None:
    config = (ROOT / "gstjobs" / "config.py").read_text()
    names = set(re.findall(r'"((?:GSTJOBS|SMTP|WHATSAPP|APP|DATABASE)_[A-Z_]+)"', config))
    assert "DATABASE_URL" in names and "GSTJOBS_TIMEZONE" in names
    missing = sorted(n for n in names if n not in README)
    assert missing == []


def test_readme_shows_the_two_setup_commands() -> None:
    assert "make demo" in README and "make test" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
