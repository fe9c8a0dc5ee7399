"""Which practices a command works on: all of them, or those named with --tenant.

A practice whose ``timezone`` is not an IANA name both PostgreSQL and Python know
(``IST``, ``+05:30``, ``Mars/Olympus``) is set apart, with the reason: run in a wrong
zone, its hearings and due dates would be read hours off. Commands work on the
others and name it (a job run fails that practice alone).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import Connection, text

from gstjobs.config import check_timezone
from gstjobs.core import Tenant
from gstjobs.errors import ConfigError, UsageError

SELECT = text(
    """
    WITH picked AS MATERIALIZED (
        SELECT id, timezone
        FROM tenants
        WHERE cardinality(CAST(:ids AS uuid[])) = 0 OR id = ANY(:ids)
    ), zones AS MATERIALIZED (
        -- once per distinct zone: the check reads pg_timezone_names, tens of ms a call
        SELECT z.timezone, gstjobs_timezone_ok(z.timezone) AS known
        FROM (SELECT DISTINCT timezone FROM picked) z
    )
    SELECT p.id, p.timezone, coalesce(z.known, false) AS known
    FROM picked p LEFT JOIN zones z ON z.timezone = p.timezone
    ORDER BY p.id
    """
)


@dataclass(frozen=True)
class Unusable:
    id: UUID
    reason: str


@dataclass(frozen=True)
class Selection:
    usable: tuple[Tenant, ...]
    unusable: tuple[Unusable, ...] = ()

    @property
    def ids(self) -> list[UUID]:
        return [t.id for t in self.usable]


PREFIX = re.compile(r"[0-9a-f]{8}(-?[0-9a-f]{0,4}){0,4}[0-9a-f]*", re.IGNORECASE)
BY_PREFIX = text(
    "SELECT id FROM tenants WHERE CAST(id AS text) LIKE :prefix || '%' ORDER BY id LIMIT 2"
)


def parse_refs(values: Sequence[str]) -> tuple[str, ...]:
    """--tenant values: full ids, or unique prefixes of at least 8 characters (as the
    tables show them); UsageError for anything else."""
    for value in values:
        try:
            UUID(value)
        except ValueError:
            if not PREFIX.fullmatch(value.strip()):
                raise UsageError(
                    f"--tenant {value!r} is not a practice id; give the id (e.g. "
                    "3f2b8c1e-5d4a-4c7b-9e1f-2a6d8b0c4e7f) or its first 8 characters."
                ) from None
    return tuple(dict.fromkeys(v.strip().lower() for v in values))


def resolve(conn: Connection, values: Sequence[str]) -> tuple[UUID, ...]:
    """The ids the --tenant values name; UsageError for a prefix no practice or more than
    one practice has."""
    out = []
    for value in parse_refs(values):
        try:
            out.append(UUID(value))
            continue
        except ValueError:
            pass
        found = list(conn.execute(BY_PREFIX, {"prefix": value}).scalars())
        if not found:
            raise UsageError(f"no tenant with id starting {value}; check --tenant.")
        if len(found) > 1:
            raise UsageError(f"--tenant {value} names more than one practice; give more of it.")
        out.append(found[0])
    return tuple(dict.fromkeys(out))


def parse_shard(shard: str) -> tuple[int, int]:
    """``K/N`` as (K, N), 0 <= K < N <= 64; UsageError otherwise."""
    k, _, n = shard.partition("/")
    if not (k.isdigit() and n.isdigit() and 0 <= int(k) < int(n) <= 64):
        raise UsageError(f"--shard {shard!r} must be K/N with 0 <= K < N <= 64, e.g. 0/2.")
    return int(k), int(n)


def in_shard(selection: Selection, shard: str) -> Selection:
    """The practices of shard ``K/N``: those whose id, as a number, is K modulo N (a
    stable split: every practice falls in exactly one shard, whatever the hosts)."""
    if not shard:
        return selection
    k, n = parse_shard(shard)
    return Selection(
        tuple(t for t in selection.usable if t.id.int % n == k),
        tuple(u for u in selection.unusable if u.id.int % n == k),
    )


def require_known(wanted: Iterable[UUID], found: Iterable[UUID]) -> None:
    """UsageError naming the first of ``wanted`` that is not among ``found``."""
    unknown = set(wanted) - set(found)
    if unknown:
        raise UsageError(
            f"no tenant with id {sorted(map(str, unknown))[0]}; "
            "check --tenant against the tenants table."
        )


def timezone_problem(timezone: str, known_to_postgres: bool) -> str | None:
    """Why a practice's time zone cannot be used, or None."""
    try:
        check_timezone(timezone, "tenants.timezone")
    except ConfigError as exc:
        return exc.message
    if not known_to_postgres:
        return f"tenants.timezone {timezone!r} is not known to this PostgreSQL server."
    return None


def load(conn: Connection, wanted: Sequence[UUID]) -> Selection:
    """Every practice, or exactly those in ``wanted`` (UsageError for an unknown id)."""
    rows = conn.execute(SELECT, {"ids": list(wanted)}).fetchall()
    require_known(wanted, (r.id for r in rows))
    usable, unusable = [], []
    for r in rows:
        problem = timezone_problem(r.timezone, r.known)
        if problem is None:
            usable.append(Tenant(r.id, r.timezone))
        else:
            unusable.append(Unusable(r.id, problem))
    return Selection(tuple(usable), tuple(unusable))
