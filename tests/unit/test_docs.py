"""Meta-tests that keep the docs honest: commands, jobs, settings, schedules, links,
the generated CLI reference and every ``gstjobs …`` command line the docs show."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.main import get_command

from gstjobs.cli import app, hoist_globals, main
from gstjobs.config import SETTINGS, load_settings
from gstjobs.jobs import JOBS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
DOCS = {p.relative_to(ROOT).as_posix(): p.read_text() for p in sorted(ROOT.glob("docs/*.md"))}
PAGES = {"README.md": README} | DOCS
ALL_DOCS = "\n".join(PAGES.values())
ENV_EXAMPLE = ROOT / "deploy" / "gstjobs.env.example"


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


def test_every_command_has_help_and_a_docs_entry() -> None:
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
    prose = ALL_DOCS.replace(DOCS.get("docs/cli.md", ""), "")
    for name, cmd in commands:
        assert (getattr(cmd, "help", None) or "").strip(), f"{name} has no help text"
        assert f"gstjobs {name}" in prose, f"no page of docs/ documents gstjobs {name}"


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


def _settings_read() -> set[str]:
    config = (ROOT / "gstjobs" / "config.py").read_text()
    return set(re.findall(r'"((?:GSTJOBS|SMTP|WHATSAPP|APP|DATABASE)_[A-Z_]*[A-Z])"', config))


def test_every_setting_read_is_in_the_configuration_reference() -> None:
    names = _settings_read() | {s.name for s in SETTINGS}
    assert "DATABASE_URL" in names and "GSTJOBS_TIMEZONE" in names
    reference = DOCS["docs/configuration.md"]
    missing = sorted(n for n in names if f"`{n}`" not in reference)
    assert missing == []


def test_the_example_env_file_names_every_setting() -> None:
    """deploy/gstjobs.env.example: every setting, commented, so an operator edits rather
    than guesses; and nothing in it is a setting gstjobs does not read."""
    text = ENV_EXAMPLE.read_text()
    names = {s.name for s in SETTINGS if "<" not in s.name}
    mentioned = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, flags=re.M))
    assert names - mentioned == set()
    assert mentioned - names <= {"GSTJOBS_DEADLINE_SLA_CHECK"}
    # Every line is a comment, blank, or NAME=value that load_settings accepts.
    env = dict(re.findall(r"^([A-Z][A-Z0-9_]+)=(.*)$", text, flags=re.M))
    load_settings(env)


def test_readme_shows_the_two_setup_commands_and_stays_short() -> None:
    assert "make demo" in README and "make test" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
    assert len(README.splitlines()) <= 120, "the README is a few screens; detail goes in docs/"


def test_docs_name_no_document_the_reader_does_not_have() -> None:
    """The original specification and the contract are not shipped: the docs say "the
    original specification" and summarise it in docs/specification.md."""
    wrong = r"\b(the seed|the seed's|seed specification|CONTRACT)\b(?! (value|number))"
    for page, text in PAGES.items():
        if page != "docs/cli.md":  # generated from help texts, where --seed is a random seed
            assert not re.search(wrong, text), (page, re.search(wrong, text))


# ---------------------------------------------------------------- the CLI reference
def test_the_cli_reference_is_what_typer_generates(tmp_path: Path) -> None:
    """docs/cli.md is Typer's own generator run on the app; after changing a command's
    help (or the pinned typer version), regenerate it with `make docs`."""
    out = tmp_path / "cli.md"
    typer_cli = str(Path(sys.executable).with_name("typer"))
    subprocess.run(
        [typer_cli, "gstjobs.__main__", "utils", "docs", "--name", "gstjobs", "--output", str(out)],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    assert DOCS["docs/cli.md"] == out.read_text(), "docs/cli.md is stale: run `make docs`"


# ---------------------------------------------------------------- links
def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[`*_]|\[|\]\([^)]*\)", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(text: str) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6} (.+)$", _without_code_blocks(text), flags=re.M):
        slug = _slug(heading)
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        found.add(slug if n == 0 else f"{slug}-{n}")
    return found


def _without_code_blocks(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)


def _links() -> Iterator[tuple[str, str]]:
    for page, text in PAGES.items():
        for target in re.findall(r"\]\(([^)\s]+)\)", _without_code_blocks(text)):
            if not re.match(r"[a-z]+:", target):
                yield page, target


def test_every_link_between_pages_resolves() -> None:
    links = list(_links())
    assert any(t.startswith("docs/") for p, t in links if p == "README.md")
    broken = []
    for page, target in links:
        path, _, anchor = target.partition("#")
        base = (ROOT / page).parent
        resolved = (base / path).resolve() if path else ROOT / page
        if not resolved.exists():
            broken.append((page, target, "no such file"))
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved.read_text()):
            broken.append((page, target, "no such heading"))
    assert broken == []


def test_every_page_the_program_points_to_exists() -> None:
    """A fix line or message that says "see docs/….md#…" names a real page and heading."""
    broken = []
    for source in sorted((ROOT / "gstjobs").rglob("*.py")):
        for path, anchor in re.findall(r"\b(docs/[\w.-]+\.md)(?:#([\w-]+))?", source.read_text()):
            page = ROOT / path
            if not page.exists() or (anchor and anchor not in _anchors(page.read_text())):
                broken.append((source.relative_to(ROOT).as_posix(), f"{path}#{anchor}"))
    assert broken == []


def test_the_readme_lists_every_page_of_docs() -> None:
    for page in DOCS:
        assert f"]({page})" in README, f"README's table of contents misses {page}"


# ---------------------------------------------------------------- command lines
GLOBAL_VALUE = {"--env-file", "--database-url"}
GLOBAL_FLAG = {"--json", "-q", "--quiet", "-v", "--verbose", "--version", "--help"}
PROGRAM = re.compile(r"(?:^|(?<=[\s($]))(?:\S*bin/)?gstjobs((?: +[^\s|;&)`<>]+)*)")
"""The command, bare or by its path in a venv (``/opt/gstjobs/.venv/bin/gstjobs``)."""
NOT_A_COMMAND_LINE = re.compile(r"^gstjobs(:| (UNKNOWN|DOCTOR|OK|CRITICAL|WARNING|status of)\b)")


def _mentions() -> Iterator[tuple[str, str, bool]]:
    """(page, the text after `gstjobs`, whether it is a literal example to parse whole)."""
    for page, text in PAGES.items():
        if page == "docs/cli.md":
            continue
        blocks = re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.M | re.S)
        for lang, body in blocks:
            if lang not in ("", "sh", "console", "bash"):
                continue
            for line in body.replace("\\\n", " ").splitlines():
                line = line.split(" #", 1)[0].strip()
                for m in re.finditer(PROGRAM, line):
                    before = line[: m.start()].rstrip("$ (")
                    if NOT_A_COMMAND_LINE.match("gstjobs" + m.group(1)) or re.search(
                        r"(^|\s)-\w+$", before
                    ):
                        continue  # an error message, or a user name (sudo -u gstjobs)
                    yield page, m.group(1).strip(), True
        for span in re.findall(r"`([^`\n]+)`", _without_code_blocks(text)):
            if re.match(r"(\S*/)?gstjobs ", span) and not NOT_A_COMMAND_LINE.match(span):
                yield page, span.split("gstjobs", 1)[1].strip(), False


def _path_of(words: list[str]) -> list[str] | None:
    """The command path the words name (global options skipped), or None for a
    synopsis placeholder such as COMMAND; raises AssertionError for an unknown word."""
    group: Any = get_command(app)
    path: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word.startswith("[") or word in GLOBAL_FLAG:
            i += 1
            continue
        if word in GLOBAL_VALUE:
            i += 2
            continue
        if word.startswith("-") or "…" in word or not hasattr(group, "get_command"):
            break
        names = word.split("|")
        if path and all(n.isupper() or n.startswith(("{", "<", "$")) for n in names):
            break  # an argument of the command, e.g. JOB
        if not path and word.isupper():
            return None  # gstjobs COMMAND …
        subs = [group.get_command(None, n) for n in names]
        assert all(subs), f"unknown command {word!r} after gstjobs {' '.join(path)}"
        path.append(names[0])
        group = subs[0]
        i += 1
    return path


def test_every_gstjobs_command_in_the_docs_is_a_command() -> None:
    """Each `gstjobs …` the docs name is a command whose --help exits 0."""
    seen: set[tuple[str, ...]] = set()
    problems = []
    for page, rest, _ in _mentions():
        try:
            path = _path_of(rest.replace("...", " ").split())
        except AssertionError as exc:
            problems.append((page, rest, str(exc)))
            continue
        if path is not None:
            seen.add(tuple(path))
    assert problems == []
    assert ("run",) in seen and ("db", "upgrade") in seen and ("run-due",) in seen
    for path in sorted(seen):
        assert main([*path, "--help"]) == 0, path


def _placeholder(word: str) -> bool:
    return bool(re.search(r"[\[\]…|<>]|\.\.\.|^\$|^[A-Z][A-Z_/]*$", word))


def test_every_literal_gstjobs_example_parses() -> None:
    """Each example line in a code block (no placeholder in it) is read by the real
    option parser: every option exists and every value has its type and range."""
    from typer._click.exceptions import ClickException

    checked = 0
    problems = []
    for page, rest, literal in _mentions():
        try:
            words = shlex.split(rest)
        except ValueError:  # a line cut inside quotes (alias x='gstjobs …')
            continue
        if not words or any(_placeholder(w) for w in words):
            continue
        if "run" in words and "--as-of" in words:  # time travel: look first (issue 10)
            assert {"--dry-run", "--force"} & set(words), (page, rest)
        if not literal:
            continue
        args = hoist_globals(words)
        command: Any = get_command(app)
        parent = None
        try:
            while True:
                ctx = command.make_context(command.name or "gstjobs", list(args), parent=parent)
                rest_args = [*getattr(ctx, "_protected_args", []), *ctx.args]
                if not hasattr(command, "get_command") or not rest_args:
                    break
                sub = command.get_command(ctx, rest_args[0])
                assert sub is not None, rest_args[0]
                command, args, parent = sub, rest_args[1:], ctx
            checked += 1
        except typer.Exit as exc:  # --version or --help: parsed, then done
            assert exc.exit_code == 0, (page, rest)
            checked += 1
        except (ClickException, AssertionError) as exc:
            problems.append((page, rest, str(exc)))
    assert problems == []
    assert checked >= 15


@pytest.mark.parametrize("page", sorted(PAGES))
def test_no_page_is_empty(page: str) -> None:
    assert len(PAGES[page].split()) > 50


def test_make_demo_never_uses_a_real_channel(tmp_path: Path, monkeypatch: Any) -> None:
    """`make demo` with SMTP and WhatsApp configured in the shell and in ./.env: the
    commands make runs see neither channel (every message goes to the file outbox)."""
    from gstjobs.config import load_env_file

    real = {
        "SMTP_HOST": "smtp.practice.example",
        "SMTP_FROM": "reminders@practice.example",
        "WHATSAPP_API_URL": "https://graph.facebook.com/v21.0",
        "WHATSAPP_PHONE_NUMBER_ID": "1098765432",
        "WHATSAPP_ACCESS_TOKEN": "EAAG-secret",
    }
    dry = subprocess.run(
        ["make", "-n", "demo"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    line = next(ln for ln in dry.splitlines() if ln.split()[:1] == ["env"] and "demo" in ln)
    words = shlex.split(line)[1:]
    program = next(i for i, w in enumerate(words) if "=" not in w)
    assignments = dict(w.split("=", 1) for w in words[:program])
    env = {**real, **assignments, "GSTJOBS_DATA_DIR": str(tmp_path)}
    for name in list(os.environ):
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    dotenv = tmp_path / ".env"
    dotenv.write_text("".join(f"{k}={v}\n" for k, v in real.items()))
    load_env_file(dotenv, required=True)  # as the command does with ./.env
    settings = load_settings()
    assert settings.smtp is None and settings.whatsapp is None
