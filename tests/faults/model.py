"""A model of the gstjobs command line for Hypothesis: every command and option, with
values that range from well-formed to hostile.

The model is hand-written so that it knows what each token *is* (an option, an option's
value, the command word): that is what the properties need ("-v was truly given as an
option", "--json was given"). ``test_the_model_covers_every_option`` keeps it complete
against the real command tree, so a new option fails that test until it is fuzzed too.

The values of each kind of option are in ``tests.faults.values``.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from hypothesis import strategies as st

from tests.faults.values import Strategy, World, kinds


@dataclass(frozen=True)
class Argv:
    args: tuple[str, ...]
    command: tuple[str, ...] | None
    """The command path when the command word is a real one (None: none or unknown)."""
    verbose: bool
    """-v/--verbose given as a global option (not as some option's value)."""
    json: bool
    """--json given as an option, before or after the command."""
    eager: bool
    """--help or --version given as an option: they print text, not JSON."""

    def __repr__(self) -> str:
        return f"Argv(gstjobs {shown(self.args)})"

    @property
    def health(self) -> bool:
        return self.command == ("health-report",)

    @property
    def plugin(self) -> bool:
        """Exits by the monitoring-plugins convention (0 OK, 1 WARNING, 2 CRITICAL,
        3 UNKNOWN), findings on stdout: health-report and doctor."""
        return self.command in (("health-report",), ("doctor",))


def shown(args: tuple[str, ...] | list[str]) -> str:
    """A command line for people: each very long argument cut, with its length."""
    return shlex.join(a if len(a) <= 60 else f"{a[:20]}...<{len(a)} chars>" for a in args)


def argv(
    *args: str,
    command: tuple[str, ...] | None = None,
    verbose: bool = False,
    json: bool = False,
    eager: bool = False,
) -> Argv:
    """An Argv written by hand (the minimal reproductions)."""
    return Argv(tuple(args), command, verbose, json, eager)


# ------------------------------------------------------------------ the commands
FLAG = "flag"
OPTIONS: dict[tuple[str, ...], dict[str, str]] = {
    (): {
        "--env-file": "env-file",
        "--database-url": "database-url",
        "--json": FLAG,
        "-q": FLAG,
        "--quiet": FLAG,
        "-v": FLAG,
        "--verbose": FLAG,
        "--version": FLAG,
        "--help": FLAG,
    },
    ("run",): {
        "JOB": "job",
        "--tenant": "uuid",
        "--as-of": "timestamp",
        "--dry-run": FLAG,
        "--trigger": "trigger",
        "--force": FLAG,
        "--shard": "shard",
        "--slot": "timestamp",
        "--json": FLAG,
    },
    ("run-due",): {"--shard": "shard", "--dry-run": FLAG, "--json": FLAG},
    ("pause",): {"JOB": "job", "--reason": "word", "--json": FLAG},
    ("resume",): {"JOB": "job", "--json": FLAG},
    ("metrics",): {"--textfile": "textfile", "--json": FLAG},
    ("doctor",): {"--json": FLAG},
    ("prune",): {"--older-than": "days-text", "--dry-run": FLAG, "--json": FLAG},
    ("status",): {"--json": FLAG},
    ("history",): {
        "--job": "job",
        "--status": "run-status",
        "--since": "since",
        "--limit": "limit",
        "--slots": FLAG,
        "--json": FLAG,
    },
    ("health-report",): {"--hours": "hours", "--as-of": "timestamp", "--json": FLAG},
    ("db", "upgrade"): {"--json": FLAG},
    ("db", "status"): {"--json": FLAG},
    ("db", "stop"): {"--json": FLAG},
    ("db", "roles"): {
        "--print": FLAG,
        "--job-role": "word",
        "--monitor-role": "word",
        "--json": FLAG,
    },
    ("demo",): {
        "--tenants": "demo-size",
        "--seed": "seed",
        "--tasks-per-tenant": "demo-size",
        "--reset": FLAG,
        "--as-of": "demo-timestamp",
        "--force": FLAG,
        "--json": FLAG,
    },
    ("rules", "list"): {"--tenant": "uuid", "--json": FLAG},
    ("rules", "validate"): {"FILE": "rule-file", "--json": FLAG},
    ("notify", "send"): {"--tenant": "uuid", "--dry-run": FLAG, "--json": FLAG},
    ("notify", "retry"): {
        "--id": "notification-id",
        "--failed": FLAG,
        "--channel": "channel",
        "--tenant": "uuid",
        "--json": FLAG,
    },
    ("notify", "list"): {
        "--status": "notify-status",
        "--tenant": "uuid",
        "--limit": "limit",
        "--json": FLAG,
    },
    ("analytics",): {"--tenant": "uuid", "--days": "days", "--json": FLAG},
    ("analytics", "backfill"): {
        "--from": "date",
        "--to": "date",
        "--tenant": "uuid",
        "--dry-run": FLAG,
        "--json": FLAG,
    },
    ("limitation", "list"): {
        "--days": "days",
        "--tenant": "uuid",
        "--as-of": "timestamp",
        "--json": FLAG,
    },
    ("limitation", "missing"): {"--tenant": "uuid", "--json": FLAG},
    ("schedule", "crontab"): {
        "--run-due": FLAG,
        "--gstjobs": "install-path",
        "--settings": "install-path",
        "--mailto": "word",
        "--json": FLAG,
    },
    ("schedule", "systemd"): {
        "--dir": "unit-dir",
        "--gstjobs": "install-path",
        "--settings": "install-path",
        "--user": "word",
        "--json": FLAG,
    },
    ("schedule", "timers"): {"--json": FLAG},
    ("schedule", "jobs"): {"--json": FLAG},
}
"""Every option of every command (positional arguments in capitals) and its kind of value."""

COMMANDS = [path for path in OPTIONS if path]
UNKNOWN_COMMANDS = st.sampled_from(["runn", "RUN", "ü", "help", "db upgrade", "--", "x" * 300])
UNKNOWN_OPTIONS = st.sampled_from(["--bogus", "-x", "--json=yes", "--tenants", "-h", "--as_of"])
VERBOSE = {"-v", "--verbose", "-qv", "-vq"}


@dataclass(frozen=True)
class _Group:
    tokens: tuple[str, ...]
    name: str | None = None
    """The option (or positional) these tokens give; None for a stray token."""


def _group(name: str, kind: str, world: World, *, bad: bool) -> Strategy[_Group]:
    """One option with a good (or a bad) value, as ``--opt value`` or ``--opt=value``."""
    if kind == FLAG:
        return st.just(_Group((name,), name))
    value = kinds(world)[kind][1 if bad else 0]
    if not name.startswith("-"):  # positional
        return value.map(lambda v: _Group((v,), name))
    return st.builds(
        lambda v, joined: _Group((f"{name}={v}",) if joined else (name, v), name),
        value,
        st.booleans(),
    )


def _options(path: tuple[str, ...], world: World, *, bad: bool) -> Strategy[_Group]:
    own = OPTIONS[path]
    names = sorted(n for n in own if n.startswith("-"))
    return st.sampled_from(names).flatmap(lambda n: _group(n, own[n], world, bad=bad))


def _stray(path: tuple[str, ...] | None) -> Strategy[_Group]:
    tokens: list[Strategy[_Group]] = [UNKNOWN_OPTIONS.map(lambda t: _Group((t,)))]
    if path:  # global options after the command are not global there
        tokens += [
            st.sampled_from(["-v", "--verbose", "-q", "--database-url", "--version"]).map(
                lambda t: _Group((t,))
            ),
            st.just(_Group(("extra-argument",))),
            st.just(_Group(("--help",), "--help")),
        ]
    else:
        tokens.append(
            st.sampled_from(["-qv", "-vq", "--help", "--version"]).map(lambda t: _Group((t,), t))
        )
    return st.one_of(tokens)


@st.composite
def argvs(draw: st.DrawFn, world: World) -> Argv:
    """A well-formed command line (global options, command, its options) with 0 to 2
    hostile elements: a bad value, a stray or misplaced token, a missing argument."""
    path: tuple[str, ...] | None
    choice = draw(st.integers(0, 29))
    if choice == 0:
        path, words = None, ()
    elif choice == 1:
        path, words = None, (draw(UNKNOWN_COMMANDS),)
    else:
        path = draw(st.sampled_from([*COMMANDS, ("run",), ("run",)]))
        words = path
    before = draw(st.lists(_options((), world, bad=False), max_size=2))
    before = [g for g in before if g.name not in ("--help", "--version")]
    after: list[_Group] = []
    if path:
        own = OPTIONS[path]
        positional = [n for n in own if not n.startswith("-")]
        after = [draw(_group(n, own[n], world, bad=False)) for n in positional]
        after += draw(st.lists(_options(path, world, bad=False), max_size=3))
    for _ in range(draw(st.integers(0, 2))):
        where = draw(st.sampled_from(["before", "after"] if path else ["before"]))
        kind = draw(st.sampled_from(["bad value", "bad value", "stray", "drop"]))
        if kind == "drop" and after:
            del after[draw(st.integers(0, len(after) - 1))]
        elif kind == "stray":
            (before if where == "before" else after).append(
                draw(_stray(None if where == "before" else path))
            )
        elif where == "before":
            before.append(draw(_options((), world, bad=True)))
        else:
            assert path is not None
            own = OPTIONS[path]
            name = draw(st.sampled_from(sorted(own)))
            hostile = draw(_group(name, own[name], world, bad=True))
            if name.startswith("-") or not any(g.name == name for g in after):
                after.append(hostile)
            else:  # a bad positional argument, in place of the good one
                after = [hostile if g.name == name else g for g in after]
    before = draw(st.permutations(before))
    after = draw(st.permutations(after))
    names = {g.name for g in before}
    return Argv(
        args=tuple(t for g in before for t in g.tokens)
        + words
        + tuple(t for g in after for t in g.tokens),
        command=path,
        verbose=bool(names & VERBOSE),
        json="--json" in names or any(g.name == "--json" for g in after),
        eager=bool(names & {"--help", "--version"}) or any(g.name == "--help" for g in after),
    )
