"""``gstjobs schedule``: crontab lines and systemd units, generated from the registry."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from gstjobs import jobs
from gstjobs.commands.common import JsonOption, show, state
from gstjobs.errors import UsageError

group = typer.Typer(
    help="Crontab lines and systemd units for the jobs, from the registry.",
    no_args_is_help=True,
)

GstjobsPath = Annotated[
    str,
    typer.Option("--gstjobs", metavar="PATH", help="The installed command."),
]
SettingsFile = Annotated[
    str, typer.Option("--settings", metavar="PATH", help="The settings file the jobs read.")
]
User = Annotated[str, typer.Option("--user", help="The service user.")]


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="schedule")


@group.command("crontab")
def crontab(
    ctx: typer.Context,
    run_due: Annotated[
        bool, typer.Option("--run-due", help="One `run-due` line instead of one per job.")
    ] = False,
    gstjobs: GstjobsPath = "/opt/gstjobs/.venv/bin/gstjobs",
    env_file: SettingsFile = "/etc/gstjobs/gstjobs.env",
    mailto: Annotated[str, typer.Option("--mailto", help="Who cron mails failures to.")] = "root",
    json_: JsonOption = False,
) -> None:
    """Print a crontab for the service user.

    \b
    Example:
      gstjobs schedule crontab > gstjobs.cron && crontab gstjobs.cron
    """
    from gstjobs.schedule import Install
    from gstjobs.schedule import crontab as make

    app_state = state(ctx, json_)
    install = Install(gstjobs, env_file, timezone=app_state.settings.timezone, mailto=mailto)
    text = make(jobs.JOBS, install, run_due=run_due)
    if app_state.json:
        show(app_state, lambda: {"crontab": text}, lambda: text)
    else:
        sys.stdout.write(text)


@group.command("systemd")
def systemd(
    ctx: typer.Context,
    directory: Annotated[
        Path | None,
        typer.Option("--dir", metavar="DIR", help="Write the units here instead of printing."),
    ] = None,
    gstjobs: GstjobsPath = "/opt/gstjobs/.venv/bin/gstjobs",
    env_file: SettingsFile = "/etc/gstjobs/gstjobs.env",
    user: User = "gstjobs",
    json_: JsonOption = False,
) -> None:
    """A oneshot service and a timer per job, and the OnFailure unit.

    \b
    Example:
      sudo gstjobs schedule systemd --dir /etc/systemd/system
      sudo systemctl daemon-reload
      sudo systemctl enable --now $(gstjobs schedule timers)
    """
    from gstjobs.schedule import Install, systemd_units, write_units

    app_state = state(ctx, json_)
    settings = app_state.settings
    install = Install(gstjobs, env_file, user, timezone=settings.timezone)
    deadlines = {s.cli_name: settings.deadline_for(s.cli_name, s.max_seconds) for s in jobs.JOBS}
    units = systemd_units(jobs.JOBS, install, deadlines)
    if directory is None:
        if app_state.json:
            show(app_state, lambda: {"units": units}, lambda: "")
            return
        for name, content in units.items():
            sys.stdout.write(f"# ---- {name}\n{content}\n")
        return
    try:
        written = write_units(units, directory)
    except OSError as exc:
        raise UsageError(f"cannot write units into {directory}: {exc.strerror or exc}.") from None
    show(
        app_state,
        lambda: {"written": [str(p) for p in written]},
        lambda: "\n".join(map(str, written)),
    )


@group.command("timers")
def timers(ctx: typer.Context, json_: JsonOption = False) -> None:
    """The timer unit names, one per line (for systemctl enable, which takes no glob).

    \b
    Example:
      sudo systemctl enable --now $(gstjobs schedule timers)
    """
    names = [f"gstjobs-{s.cli_name}.timer" for s in jobs.JOBS]
    if state(ctx, json_).json:
        show(state(ctx), lambda: {"timers": names}, lambda: "")
    else:
        sys.stdout.write("".join(f"{n}\n" for n in names))


@group.command("jobs")
def names(ctx: typer.Context, json_: JsonOption = False) -> None:
    """The jobs' CLI names, one per line, in registry order (the Makefile's list)."""
    listed = [s.cli_name for s in jobs.JOBS]
    if state(ctx, json_).json:
        show(state(ctx), lambda: {"jobs": listed}, lambda: "")
    else:
        sys.stdout.write("".join(f"{n}\n" for n in listed))
