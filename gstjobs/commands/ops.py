"""``gstjobs run-due``, ``pause`` and ``resume``: scheduling by policy, and holding a job."""

from __future__ import annotations

import getpass
import json
import socket
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import typer

from gstjobs import jobs
from gstjobs.commands.common import (
    AppState,
    DryRunOption,
    JsonOption,
    ShardOption,
    parse_shard,
    show,
    state,
)

AUDIT = """
    INSERT INTO audit_log (tenant_id, action_type, entity_type, details)
    VALUES (CAST(:system AS uuid), :action, 'background_job', CAST(:details AS jsonb))
"""


def register(app: typer.Typer) -> None:
    app.command("run-due")(run_due)
    app.command("pause")(pause)
    app.command("resume")(resume)
    app.command("metrics")(metrics)
    app.command("doctor")(doctor)
    app.command("prune")(prune)


@dataclass(frozen=True)
class Started:
    job: str
    slot: datetime
    as_of: datetime | None
    exit_code: int
    document: dict[str, Any] | None
    said: str = ""
    """The run's own error line, without ``gstjobs: `` (run-due says it once, named)."""


def run_due(
    ctx: typer.Context,
    shard: ShardOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what is due; start nothing.")
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Run every job that is due now, by its catch-up and overlap policy.

    Meant for one crontab line or timer (`* * * * * gstjobs run-due`) instead of one per
    job. Missed slots are caught up as each job's policy says: the SLA check runs once
    for the latest slot, the nightly snapshot once for each missed day (as of that
    day), reminders and digests only on the same day. Paused jobs are left alone.
    Several hosts may run it at once: each slot still runs once. Exit 0 when every run
    it started succeeded (or skipped), else the worst of their exit codes.

    \b
    Examples:
      gstjobs run-due
      gstjobs run-due --dry-run --json
    """
    from sqlalchemy import text

    from gstjobs.clock import iso_z
    from gstjobs.migrate import require_current
    from gstjobs.ops import rundue

    app_state = state(ctx, json_)
    part = parse_shard(shard)
    with app_state.connection("run-due") as conn:
        require_current(conn)
        now = conn.execute(text("SELECT now()")).scalar_one()
        due, held = rundue.plan(conn, jobs.JOBS, app_state.settings.tz, now, shard=part)
    started = [] if dry_run else _start_all(app_state, due)
    code = max((_severity(s.exit_code) for s in started), default=0)
    worst = next((s.exit_code for s in started if _severity(s.exit_code) == code), 0)

    def document() -> dict[str, Any]:
        return {
            "now": iso_z(now),
            "dryRun": dry_run,
            "due": [
                {
                    "job": d.spec.cli_name,
                    "slot": iso_z(d.slot),
                    "asOf": iso_z(d.as_of) if d.as_of else None,
                }
                for d in due
            ],
            "runs": [
                {
                    "job": s.job,
                    "slot": iso_z(s.slot),
                    "exitCode": s.exit_code,
                    "status": (s.document or {}).get("status"),
                    "runId": (s.document or {}).get("runId"),
                    "error": (s.document or {}).get("error"),
                }
                for s in started
            ],
            "held": [{"job": h.spec.cli_name, "reason": h.reason} for h in held],
        }

    def view() -> str:
        tz = app_state.settings.tz
        lines = [f"due at {now.astimezone(tz):%Y-%m-%d %H:%M %Z}: {len(due)} run(s)"]
        for d in due:
            moment = f", as of {d.as_of.astimezone(tz):%Y-%m-%d %H:%M}" if d.as_of else ""
            lines.append(f"  {d.spec.cli_name} for {d.slot.astimezone(tz):%Y-%m-%d %H:%M}{moment}")
        lines += [f"  {s.job}: exit {s.exit_code}" for s in started]
        lines += [f"  {h.spec.cli_name}: held ({h.reason})" for h in held]
        return "\n".join(lines)

    show(app_state, document, view, report=not dry_run)
    for s in started:
        if s.exit_code != 0:
            error = (s.document or {}).get("error") or s.said or f"exit {s.exit_code}"
            sys.stderr.write(f"gstjobs: {s.job} failed: {error}\n")
    raise typer.Exit(worst)


def _text(output: str | bytes | None) -> str:
    """A child's output, whatever its bytes (one not UTF-8 must not lose its failure)."""
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


def _signal_name(number: int) -> str:
    import signal

    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _severity(code: int) -> int:
    """How bad an exit code is: 0 ok, 1 failed, 2 database or configuration."""
    return 0 if code == 0 else 2 if code in (69, 78) else 1


def _start_all(app_state: AppState, due: list[Any]) -> list[Started]:
    """Start the due runs as `gstjobs run` processes: different jobs at once, the slots
    of one job one after the other (oldest first: each takes the job's lock)."""
    import threading

    from gstjobs.clock import iso_z

    base = [sys.executable, "-m", "gstjobs"]
    if app_state.env_file is not None:
        base += ["--env-file", str(app_state.env_file)]
    if app_state.database_url is not None:
        base += ["--database-url", app_state.database_url]
    by_job: dict[str, list[Any]] = {}
    for d in due:
        by_job.setdefault(d.spec.name, []).append(d)
    out: list[Started] = []
    lock = threading.Lock()

    def one_job(dues: list[Any]) -> None:
        for d in dues:
            args = [*base, "run", d.spec.cli_name, "--trigger", "scheduled", "--json"]
            # --force: a slot run-due names comes from the database clock, and a night
            # started late (its catch-ups before it) works as of its slot.
            args += ["--slot", iso_z(d.slot), "--force"]
            if d.as_of is not None:
                args += ["--as-of", iso_z(d.as_of)]
            if d.shard:
                args += ["--shard", d.shard]
            limit = app_state.settings.deadline_for(d.spec.cli_name, d.spec.max_seconds) + 60
            said: list[str] = []
            try:
                done = subprocess.run(args, capture_output=True, timeout=limit)
                code, stdout, stderr = done.returncode, _text(done.stdout), _text(done.stderr)
            except subprocess.TimeoutExpired as exc:
                code, stdout, stderr = 1, _text(exc.stdout), _text(exc.stderr)
                said.append(f"did not end within {limit:g} s (its deadline + 60 s): killed")
            if code < 0:  # killed by a signal: a documented exit code, the signal named
                said.append(f"killed by {_signal_name(-code)}")
                code = 1
            try:
                document = json.loads(stdout) if stdout.strip() else None
            except ValueError:
                document = None
            # Its log lines pass through; its error line is said once, below, by job.
            lines = stderr.splitlines()
            said += [ln.removeprefix("gstjobs: ") for ln in lines if ln.startswith("gstjobs: ")]
            with lock:
                for line in lines:
                    if not line.startswith("gstjobs: "):
                        sys.stderr.write(line + "\n")
                out.append(
                    Started(d.spec.cli_name, d.slot, d.as_of, code, document, " ".join(said))
                )

    threads = [threading.Thread(target=one_job, args=(dues,)) for dues in by_job.values()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(out, key=lambda s: (s.job, s.slot))


def pause(
    ctx: typer.Context,
    job: Annotated[str, typer.Argument(metavar="JOB", show_default=False)],
    reason: Annotated[str, typer.Option("--reason", help="Why, for status and history.")] = "",
    json_: JsonOption = False,
) -> None:
    """Hold a job: its scheduled runs record themselves skipped until `resume`.

    A run started by hand (gstjobs run JOB from a terminal) still runs.

    \b
    Example:
      gstjobs pause hearing-reminders --reason "court vacation till 2 Jan"
    """
    from gstjobs import slots
    from gstjobs.ledger import SYSTEM_TENANT
    from gstjobs.migrate import require_current

    app_state = state(ctx, json_)
    spec = jobs.find(job)
    by = _who()
    with app_state.connection("pause") as conn:
        require_current(conn)
        slots.pause(conn, spec.name, reason, by)
        _audit(conn, SYSTEM_TENANT, "job_paused", {"job_name": spec.name, "reason": reason})
    show(
        app_state,
        lambda: {"job": spec.name, "paused": True, "reason": reason, "by": by},
        lambda: f"{spec.cli_name} paused" + (f" ({reason})" if reason else ""),
    )


def resume(
    ctx: typer.Context,
    job: Annotated[str, typer.Argument(metavar="JOB", show_default=False)],
    json_: JsonOption = False,
) -> None:
    """Let a paused job run on its schedule again.

    \b
    Example:
      gstjobs resume hearing-reminders
    """
    from gstjobs import slots
    from gstjobs.ledger import SYSTEM_TENANT
    from gstjobs.migrate import require_current

    app_state = state(ctx, json_)
    spec = jobs.find(job)
    with app_state.connection("resume") as conn:
        require_current(conn)
        was = slots.resume(conn, spec.name)
        if was:
            _audit(conn, SYSTEM_TENANT, "job_resumed", {"job_name": spec.name})
    show(
        app_state,
        lambda: {"job": spec.name, "paused": False, "wasPaused": was},
        lambda: f"{spec.cli_name} resumed" if was else f"{spec.cli_name} was not paused",
    )


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _audit(conn: Any, tenant: Any, action: str, details: dict[str, Any]) -> None:
    from sqlalchemy import text

    payload = json.dumps(details | {"by": _who()})
    conn.execute(text(AUDIT), {"system": tenant, "action": action, "details": payload})


def metrics(
    ctx: typer.Context,
    textfile: Annotated[
        str | None,
        typer.Option(
            "--textfile",
            metavar="PATH",
            help="Write here (atomically) instead of stdout, for node-exporter's textfile "
            "collector (Debian's prometheus-node-exporter reads "
            "/var/lib/prometheus/node-exporter).",
        ),
    ] = None,
    json_: JsonOption = False,
) -> None:
    """The jobs, the outbox and the channels in Prometheus text format.

    Per job: last success, last run and its duration and outcome, next slot, seconds
    overdue, missed slots, paused, what the last run counted; the outbox by channel and
    state; each channel's state. Read only. With --json, the same metrics as one JSON
    document (each family's name, type, help and samples with their labels).

    \b
    Examples:
      gstjobs metrics
      gstjobs metrics --json
      gstjobs metrics --textfile /var/lib/prometheus/node-exporter/gstjobs.prom
    """
    from prometheus_client import generate_latest, write_to_textfile
    from sqlalchemy import text

    from gstjobs.migrate import require_current
    from gstjobs.ops import metrics as collected

    app_state = state(ctx, json_)
    if app_state.json and textfile is not None:
        from gstjobs.errors import UsageError

        raise UsageError("--textfile writes the text format; leave out --json.")
    with app_state.connection("metrics") as conn:
        require_current(conn)
        now = conn.execute(text("SELECT now()")).scalar_one()
        registry = collected.collect(conn, jobs.JOBS, app_state.settings.tz, now)
    if textfile is None and app_state.json:
        show(app_state, lambda: collected.as_json(registry), lambda: "")
        return
    if textfile is None:
        sys.stdout.write(generate_latest(registry).decode())
        return
    try:
        write_to_textfile(textfile, registry)
    except OSError as exc:
        from gstjobs.errors import UsageError

        raise UsageError(f"cannot write {textfile!r}: {exc.strerror or exc}.") from None


def doctor(ctx: typer.Context, json_: JsonOption = False) -> None:
    """What to look at when something feels wrong; one line per finding, with the fix.

    Checks that cron or the timers still call (no scheduled run for longer than the
    shortest schedule allows), that the installed crontab or timers match the registry,
    the host and database clocks, pending migrations, the role's privileges, the
    embedded server used under systemd or with no terminal, the outbox, the channels,
    paused jobs and missed slots. Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.

    \b
    Example:
      gstjobs doctor
    """
    from datetime import UTC, datetime

    from gstjobs import render
    from gstjobs.ops import doctor as checks

    app_state = state(ctx, json_)
    with app_state.connection("doctor") as conn:
        found = checks.examine(
            conn,
            jobs.JOBS,
            app_state.settings.tz,
            host_now=datetime.now(UTC),
            embedded=app_state.db.embedded,
        )
    worst = next((f.level for f in found if f.level != "INFO"), "OK")
    code = checks.EXIT[worst]
    head = f"GSTJOBS DOCTOR {worst} - {len(found)} finding(s) in {app_state.db.label}"
    if app_state.json:
        render.print_json(
            {
                "status": worst,
                "exitCode": code,
                "database": app_state.db.label,
                "findings": [
                    {"level": f.level, "subject": f.subject, "message": f.message, "fix": f.fix}
                    for f in found
                ],
            }
        )
    else:
        sys.stdout.write(head.replace("|", "/") + "\n")
        for f in found:
            sys.stdout.write(f.line().replace("|", "/") + "\n")
    raise typer.Exit(code)


def prune(
    ctx: typer.Context,
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            metavar="DAYS",
            help="Keep this many days (e.g. 90d); default GSTJOBS_RETAIN_DAYS (90).",
        ),
    ] = None,
    dry_run: DryRunOption = False,
    json_: JsonOption = False,
) -> None:
    """Sum old history per day, then delete it: the prune job, by hand.

    Finished runs, job-execution audit rows, processed events, rule logs and sent
    notifications older than the retention go (failures after
    GSTJOBS_RETAIN_FAILED_DAYS), in small batches that never block a running job.

    \b
    Examples:
      gstjobs prune --dry-run
      gstjobs prune --older-than 180d
    """
    from dataclasses import replace

    from gstjobs import progress, render, runner
    from gstjobs.config import MIN_RETAIN_DAYS
    from gstjobs.errors import UsageError

    app_state = state(ctx, json_)
    settings = app_state.settings
    if older_than is not None:
        raw = older_than.strip().lower().removesuffix("d")
        if not raw.isdigit() or not MIN_RETAIN_DAYS <= int(raw) <= 36500:
            raise UsageError(
                f"--older-than {older_than!r} must be a number of days from "
                f"{MIN_RETAIN_DAYS} to 36500, e.g. 90d."
            )
        days = int(raw)
        settings = replace(
            settings, retain_days=days, retain_failed_days=max(days, settings.retain_failed_days)
        )
    spec = jobs.find("prune")
    request = runner.RunRequest(dry_run=dry_run, trigger="manual")
    with progress.shown(not (app_state.json or app_state.quiet)) as shown:
        outcome = runner.execute(spec, settings, app_state.db, request, shown)
    show(
        app_state,
        lambda: render.run_json(outcome),
        lambda: render.run_table(outcome, settings.tz),
        report=not dry_run,
    )
    if outcome.status == "failed":
        sys.stderr.write(f"gstjobs: prune failed: {outcome.error}\n")
    raise typer.Exit(outcome.exit_code)
