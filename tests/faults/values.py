"""Values for the CLI fuzz, kind by kind: for each kind of option, good values (so a
command line gets far enough to do real work) and bad ones (malformed UUIDs, timestamps
at and past the ends of the calendar, offsets past 24 h, numbers out of range, empty,
unicode, very long, and the neighbouring options themselves, such as ``-v``).

File names are relative: the command runs in the fuzz directory (see conftest), where
the files exist. No value is an empty ``--database-url`` (that selects the embedded
server, which would be started and left running).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

from hypothesis import strategies as st

from gstjobs.core import RUN_STATUSES
from gstjobs.jobs import JOBS
from gstjobs.notify.outbox import STATUSES as NOTIFY_STATUSES

Strategy = st.SearchStrategy


@dataclass(frozen=True)
class World:
    """What the values point at: the fuzz database and its practices."""

    database_url: str
    tenants: tuple[str, ...]


# Each kind of value has good values and bad ones; an option draws a good value three
# times as often, so most command lines get far enough to do real work.
TEXT = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=24
)
HOSTILE: Strategy[str] = st.one_of(
    st.sampled_from(["-v", "--verbose", "--json", "-q", "-", "", " ", "ß", "ü\u200b", "\u202e"]),
    st.sampled_from(["x" * 5000, "é" * 3000, "9" * 4400, "%s%n{0}", "'; DROP TABLE tasks; --"]),
    TEXT,
)
"""What any option may be given: its neighbours, empty, unicode, very long."""


def today() -> date:
    return datetime.now(UTC).date()


def _moments() -> Strategy[str]:
    zones = st.sampled_from(
        [
            None,
            UTC,
            timezone(timedelta(hours=5, minutes=30)),
            timezone(timedelta(hours=-12)),
            timezone(timedelta(hours=14)),
            timezone(timedelta(hours=23, minutes=59)),
        ]
    )
    return st.builds(
        lambda moment, zone, spec: moment.replace(tzinfo=zone).isoformat(timespec=spec),
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59)),
        zones,
        st.sampled_from(["minutes", "seconds", "microseconds"]),
    )


GOOD_TIMESTAMPS = st.one_of(
    st.sampled_from(["2026-01-15T10:00", "2026-01-15T02:30:00Z", "2026-01-15", "20260115T1000Z"]),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(
        lambda m: m.isoformat(timespec="minutes")
    ),
)
DEMO_TIMESTAMPS = st.one_of(
    st.sampled_from(["2026-01-15T10:00", "2026-01-15T02:30:00Z", "2026-01-15", "20260115T1000Z"]),
    st.datetimes(min_value=datetime(2024, 7, 1), max_value=datetime(2027, 9, 30)).map(
        lambda m: m.isoformat(timespec="minutes")
    ),
)
"""The moments the demo's law covers (gstjobs.demo.calendar.EARLIEST_ANCHOR..LATEST_ANCHOR)."""
EDGE_TIMESTAMPS = st.sampled_from(
    [
        "9999-12-31T23:00Z",
        "9999-12-31T23:59:59+00:00",
        "9999-12-31",
        "0001-01-01",
        "0001-01-01T00:00Z",
        "0001-01-01T05:00+05:30",
        "0001-01-02T00:00-12:00",
        "10000-01-01",
        "+275760-09-13",
        "2026-01-15T10:00+25:00",
        "2026-01-15T10:00+24:00",
        "2026-01-15T10:00-23:59",
        "infinity",
        "-infinity",
        "now",
        "2026-02-30",
        "2026-01-15T24:00",
        "2026-01-15T10:00:00.123456789Z",
        "２０２６-０１-１５",
        "2026-W03-4",
        "1970-01-01T00:00Z",
        "2038-01-19T03:14:08Z",
    ]
)
BAD_TIMESTAMPS = st.one_of(EDGE_TIMESTAMPS, EDGE_TIMESTAMPS, _moments(), HOSTILE)


def _ints(low: int | None, high: int | None) -> tuple[Strategy[str], Strategy[str]]:
    """In [low, high]; and its boundaries, far outside it, and not integers at all."""
    good = st.integers(low if low is not None else -(10**6), high if high is not None else 10**6)
    edges = {0, -1, 10**12, -(10**12), 10**30, 2**31, 2**63}
    for bound in (low, high):
        if bound is not None:
            edges |= {bound - 1, bound, bound + 1}
    bad = st.one_of(
        st.sampled_from(sorted(edges)).map(str),
        st.sampled_from(["", "abc", "1.5", "1e3", "0x10", " 5", "５", "٣", "-0", "+7", "1_000"]),
        HOSTILE,
    )
    return good.map(str), bad


def _dates() -> tuple[Strategy[str], Strategy[str]]:
    good = st.integers(1, 4).map(lambda k: (today() - timedelta(days=k)).isoformat())
    bad = st.one_of(
        st.sampled_from(
            [
                "0001-01-01",
                "0001-01-02",
                "9999-12-30",
                "9999-12-31",
                "2026-02-30",
                "yesterday",
                "2026-01-15T10:00",
                today().isoformat(),
                (today() + timedelta(days=1)).isoformat(),
            ]
        ),
        HOSTILE,
    )
    return good, bad


def _uuids(world: World) -> tuple[Strategy[str], Strategy[str]]:
    bad = st.one_of(
        st.uuids().map(str),  # well-formed, no such practice
        st.uuids().map(lambda u: str(u)[:-1]),
        st.uuids().map(lambda u: str(u).replace("-", "")),
        st.uuids().map(lambda u: "{" + str(u) + "}"),
        st.uuids().map(lambda u: str(u) + "0"),
        st.sampled_from(["00000000-0000-0000-0000-00000000000g", "not-a-uuid", "🙂" * 36]),
        HOSTILE,
    )
    return st.sampled_from(world.tenants), bad


def _files(good: list[str], bad: list[str]) -> tuple[Strategy[str], Strategy[str]]:
    return st.sampled_from(good), st.one_of(st.sampled_from(bad), HOSTILE)


def _words(good: Sequence[str], bad: Sequence[str]) -> tuple[Strategy[str], Strategy[str]]:
    return st.sampled_from(list(good)), st.one_of(st.sampled_from(list(bad)), HOSTILE)


def _database_urls(world: World) -> tuple[Strategy[str], Strategy[str]]:
    bogus = world.database_url + ("&" if "?" in world.database_url else "?") + "bogus=1"
    return st.just(world.database_url), st.sampled_from(
        [
            "postgresql://postgres:hunter2@127.0.0.1:1/nothing",
            "mysql://root@localhost/db",
            "not a url",
            bogus,
            "postgresql://127.0.0.1:99999/x",
            "-v",
            "ü",
        ]
    )


JOB_NAMES = [s.cli_name for s in JOBS] + [s.name for s in JOBS]
DEMO_SIZES = _words(["1", "2"], ["0", "-1", "100001", str(10**12), "", "abc", "1.5"])
"""demo sizes: in range only as small as a test can afford."""


@functools.cache
def kinds(world: World) -> dict[str, tuple[Strategy[str], Strategy[str]]]:
    """Good and bad values of each kind of option (see OPTIONS)."""
    return {
        "uuid": _uuids(world),
        "timestamp": (GOOD_TIMESTAMPS, BAD_TIMESTAMPS),
        # demo writes what it is given: no random far-off anchors that later runs would meet
        "demo-timestamp": (DEMO_TIMESTAMPS, st.one_of(EDGE_TIMESTAMPS, HOSTILE)),
        "date": _dates(),
        "job": _words(JOB_NAMES, ["no-such-job", "SLA-CHECK", "sla-check ", "sla_check"]),
        "run-status": _words(RUN_STATUSES, ["SUCCESS", "ok"]),
        "notify-status": _words(NOTIFY_STATUSES, ["PENDING", "queued"]),
        "since": (
            st.sampled_from(["30m", "24h", "7d", "2w", "2026-01-15T10:00"]),
            st.one_of(st.sampled_from(["0m", "99999999999d", "1y", "-5m"]), BAD_TIMESTAMPS),
        ),
        "trigger": _words(["scheduled", "manual", "auto"], ["cron", "Manual"]),
        "demo-size": DEMO_SIZES,
        "seed": _ints(None, None),
        "limit": _ints(1, 10000),
        "hours": _ints(1, 24 * 90),
        "days": _ints(1, 366),
        "rule-file": _files(
            ["rules/valid.json", "rules/invalid.json"],
            [
                "rules/deep.json",
                "rules/bigint.json",
                "rules/latin1.json",
                "rules/empty.json",
                "rules",
                "rules/missing.json",
                "/dev/null",
                "x" * 5000,
            ],
        ),
        "env-file": _files(["good.env"], ["missing.env", "rules", "latin1.env", "x" * 300]),
        "database-url": _database_urls(world),
        "notification-id": _ints(1, None),
        "channel": _words(["email", "whatsapp", "console"], ["EMAIL", "sms", ""]),
        # schedule output only: any text is written into the units, never run here
        "install-path": _words(["/opt/gstjobs/.venv/bin/gstjobs", "gstjobs"], ["", "a b"]),
        "word": _words(["root", "ops@firm.example", "gstjobs"], ["", "ü" * 40]),
        "unit-dir": _files(["units"], ["rules/valid.json", "/dev/null/units"]),
        "shard": _words(["0/2", "1/2", "0/1"], ["2/2", "1/0", "a/b", "-1/2", "0/65"]),
        "textfile": _files(["gstjobs.prom"], ["/dev/null/x.prom", "rules", ""]),
        "days-text": _words(["90d", "30", "3650d"], ["3d", "0", "forever", "-5d"]),
    }
