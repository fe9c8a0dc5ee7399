"""``gstjobs doctor``: what to look at when something feels wrong.

Each check is one finding, one line, with the command that fixes or explains it. The
levels are those of a monitoring check (exit 0/1/2, 3 when it cannot look), so doctor
can run from Nagios too. Read only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text

from gstjobs import slots
from gstjobs.core import JobSpec
from gstjobs.migrate import pending
from gstjobs.notify import state as channels
from gstjobs.schedule import on_calendar

LEVELS = ("CRITICAL", "WARNING", "INFO")
EXIT = {"OK": 0, "INFO": 0, "WARNING": 1, "CRITICAL": 2}
CLOCK_SKEW = timedelta(seconds=60)
TIMERS = Path("/etc/systemd/system")

LAST_SCHEDULED = text(
    "SELECT max(started_at) FROM job_runs WHERE trigger = 'scheduled' AND NOT dry_run"
)
STALE_OUTBOX = text(
    """
    SELECT count(*) FROM notifications
    WHERE status = 'pending' AND next_attempt_at < :before
    """
)
PRIVILEGES = text(
    """
    SELECT t.tbl, t.priv, has_table_privilege(current_user, t.tbl, t.priv) AS granted
    FROM unnest(CAST(:tables AS text[]), CAST(:privs AS text[])) AS t (tbl, priv)
    WHERE to_regclass(t.tbl) IS NOT NULL
    """
)
NEEDED = (
    ("tasks", "UPDATE"),
    ("tasks", "INSERT"),
    ("job_runs", "INSERT"),
    ("job_runs", "UPDATE"),
    ("job_slots", "INSERT"),
    ("audit_log", "INSERT"),
    ("automation_events", "INSERT"),
    ("automation_logs", "INSERT"),
    ("notifications", "INSERT"),
    ("notifications", "UPDATE"),
    ("analytics_snapshots", "INSERT"),
    ("limitation_dates", "INSERT"),
)
"""What the jobs write (their SELECTs are implied by the read-only check above them)."""


@dataclass(frozen=True)
class Finding:
    level: str
    subject: str
    message: str
    fix: str

    def line(self) -> str:
        return f"{self.level:<8} {self.subject}: {self.message} -> {self.fix}"


def examine(
    conn: Connection,
    specs: Sequence[JobSpec],
    tz: ZoneInfo,
    *,
    host_now: datetime,
    embedded: bool,
) -> list[Finding]:
    """Every check, in the database ``conn`` reaches, at the database's clock."""
    now: datetime = conn.execute(text("SELECT now()")).scalar_one()
    out: list[Finding] = []
    out += _migrations(conn)
    out += _scheduler(conn, specs, tz, now)
    out += _installed(specs, tz)
    if abs(host_now - now) > CLOCK_SKEW:
        out.append(
            Finding(
                "WARNING",
                "clock",
                f"this host's clock is {abs(host_now - now).total_seconds():.0f} s from the "
                "database's",
                "sync both with NTP (timedatectl status; chronyc tracking)",
            )
        )
    out += _privileges(conn)
    if embedded and (os.environ.get("INVOCATION_ID") or not os.isatty(0)):
        where = (
            "under systemd"
            if os.environ.get("INVOCATION_ID")
            else "with no terminal on standard input (cron, a script or a pipe?)"
        )
        out.append(
            Finding(
                "WARNING",
                "database",
                f"the embedded PostgreSQL is in use {where}: it is meant for the demo and "
                "development",
                "set DATABASE_URL to the production PostgreSQL "
                "(see docs/operations.md#4-the-settings-file)",
            )
        )
    stale = conn.execute(STALE_OUTBOX, {"before": now - timedelta(hours=1)}).scalar_one()
    if stale:
        out.append(
            Finding(
                "CRITICAL",
                "outbox",
                f"{stale:,} notification(s) due for over an hour and not sent",
                "gstjobs notify list --status pending; is the deliver job scheduled?",
            )
        )
    for known in channels.states(conn, now):
        if known.state == "down":
            out.append(
                Finding(
                    "CRITICAL",
                    f"channel {known.channel}",
                    f"down: {known.reason}",
                    "fix the provider settings, then gstjobs notify retry",
                )
            )
    for job, pause in slots.paused(conn).items():
        out.append(
            Finding(
                "INFO",
                f"job {_cli(specs, job)}",
                f"paused since {pause.paused_at.astimezone(tz):%Y-%m-%d %H:%M %Z}"
                + (f" ({pause.reason})" if pause.reason else ""),
                f"gstjobs resume {_cli(specs, job)}",
            )
        )
    missed = slots.missed_counts(conn, specs, tz, now)
    for spec in specs:
        if missed.get(spec.name):
            out.append(
                Finding(
                    "WARNING",
                    f"job {spec.cli_name}",
                    f"{missed[spec.name]} scheduled run(s) missed in the last 7 days",
                    "gstjobs history --slots --job " + spec.cli_name + "; gstjobs run-due",
                )
            )
    return sorted(out, key=lambda f: LEVELS.index(f.level))


def _cli(specs: Sequence[JobSpec], name: str) -> str:
    return next((s.cli_name for s in specs if s.name == name), name)


def _migrations(conn: Connection) -> list[Finding]:
    waiting = pending(conn)
    if not waiting:
        return []
    names = ", ".join(f"{m.version}_{m.name}" for m in waiting)
    return [Finding("CRITICAL", "schema", f"migrations pending: {names}", "gstjobs db upgrade")]


def _scheduler(
    conn: Connection, specs: Sequence[JobSpec], tz: ZoneInfo, now: datetime
) -> list[Finding]:
    """No scheduled run for longer than the shortest schedule allows: cron or the timers
    stopped calling."""
    last = conn.execute(LAST_SCHEDULED).scalar()
    shortest = min(slots.interval(s, tz, now) for s in specs)
    allowed = 3 * shortest + timedelta(minutes=5)
    fix = "crontab -l; systemctl list-timers 'gstjobs-*'; gstjobs schedule crontab|systemd"
    if last is None:
        return [Finding("WARNING", "scheduler", "no scheduled run has ever started", fix)]
    if now - last > allowed:
        minutes = (now - last).total_seconds() / 60
        return [
            Finding(
                "CRITICAL",
                "scheduler",
                f"no scheduled run has started for {minutes:,.0f} min (the most frequent job "
                f"runs every {shortest.total_seconds() / 60:g} min): cron or the timers stopped",
                fix,
            )
        ]
    return []


def _privileges(conn: Connection) -> list[Finding]:
    rows = conn.execute(
        PRIVILEGES, {"tables": [t for t, _ in NEEDED], "privs": [p for _, p in NEEDED]}
    ).all()
    missing = [f"{r.priv} on {r.tbl}" for r in rows if not r.granted]
    if not missing:
        return []
    if len(missing) == len(rows):
        return [
            Finding(
                "INFO",
                "role",
                "this role only reads: fine for monitoring (status, history, health-report, "
                "metrics, doctor); the jobs need the job role",
                "gstjobs db roles --print",
            )
        ]
    return [
        Finding(
            "CRITICAL",
            "role",
            f"this role lacks what the jobs need: {', '.join(missing)}",
            "gstjobs db roles --print (then run the GRANTs as the database owner)",
        )
    ]


def _installed(specs: Sequence[JobSpec], tz: ZoneInfo) -> list[Finding]:
    """The schedule installed on this host (the user's crontab, /etc/systemd/system
    timers), against the registry; silent when there is neither to read."""
    out: list[Finding] = []
    cron = _crontab()
    if cron is not None and "gstjobs" in cron:
        out += _compare_crontab(cron, specs)
    timers = sorted(TIMERS.glob("gstjobs-*.timer")) if TIMERS.is_dir() else []
    if timers:
        out += _compare_timers(timers, specs, tz)
    return out


def _crontab() -> str | None:
    binary = shutil.which("crontab")
    if binary is None:
        return None
    try:
        done = subprocess.run([binary, "-l"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _compare_crontab(cron: str, specs: Sequence[JobSpec]) -> list[Finding]:
    if any("run-due" in line and not line.lstrip().startswith("#") for line in cron.splitlines()):
        return []
    out = []
    fix = "gstjobs schedule crontab > gstjobs.cron && crontab gstjobs.cron"
    for spec in specs:
        lines = [
            ln.split()
            for ln in cron.splitlines()
            if f"run {spec.cli_name} " in ln + " " and not ln.lstrip().startswith("#")
        ]
        if not lines:
            out.append(Finding("WARNING", "crontab", f"no line runs {spec.cli_name}", fix))
        elif any(" ".join(ln[:5]) != spec.schedule for ln in lines):
            shown = " ".join(lines[0][:5])
            out.append(
                Finding(
                    "WARNING",
                    "crontab",
                    f"{spec.cli_name} runs at '{shown}', the registry says '{spec.schedule}'",
                    fix,
                )
            )
    return out


def _compare_timers(timers: list[Path], specs: Sequence[JobSpec], tz: ZoneInfo) -> list[Finding]:
    out = []
    fix = "sudo gstjobs schedule systemd --dir /etc/systemd/system && sudo systemctl daemon-reload"
    found = {p.name: p for p in timers}
    for spec in specs:
        path = found.get(f"gstjobs-{spec.cli_name}.timer")
        if path is None:
            out.append(Finding("WARNING", "timers", f"no timer for {spec.cli_name}", fix))
            continue
        want = on_calendar(spec.schedule, str(tz))
        have = [
            ln.split("=", 1)[1].strip()
            for ln in path.read_text(errors="replace").splitlines()
            if ln.startswith("OnCalendar=")
        ]
        if have != [want]:
            out.append(
                Finding(
                    "WARNING",
                    "timers",
                    f"{path.name} says OnCalendar={', '.join(have) or 'nothing'}, the registry "
                    f"says {want}",
                    fix,
                )
            )
    return out
