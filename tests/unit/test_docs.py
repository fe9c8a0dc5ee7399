"""Meta-tests that keep the docs honest: commands, jobs, settings and schedules."""

from __future__ import annotations

import re
from pathlib import Path

import typer
from typer.main import get_command

from gstjobs.cli import app
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


def test_every_job_is_scheduled_everywhere() -> None:
    crontab = (ROOT / "crontab.example").read_text()
    makefile = (ROOT / "Makefile").read_text()
    make_jobs = re.search(r"^JOBS\s*:=\s*(.+)$", makefile, re.M)
    assert make_jobs is not None
    for spec in JOBS:
        line = next((ln for ln in crontab.splitlines() if f"run {spec.cli_name} " in ln), None)
        assert line is not None, f"{spec.cli_name} missing from crontab.example"
        assert line.split()[:5] == spec.schedule.split(), f"{spec.cli_name}: schedule differs"
        timer = ROOT / "deploy" / "systemd" / f"gstjobs-{spec.cli_name}.timer"
        assert timer.is_file(), f"no systemd timer for {spec.cli_name}"
        assert "Asia/Kolkata" in timer.read_text()
        assert spec.cli_name in make_jobs.group(1).split(), f"make demo skips {spec.cli_name}"
        assert f"`{spec.cli_name}`" in README and f"`{spec.name}`" in README


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
