"""Which practices a command works on: all of them, or those named with --tenant."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from uuid import UUID

from sqlalchemy import Connection, text

from gstjobs.core import Tenant
from gstjobs.errors import UsageError

ALL = text("SELECT id, timezone FROM tenants ORDER BY id")
BY_ID = text("SELECT id, timezone FROM tenants WHERE id = ANY(:ids) ORDER BY id")


def require_known(wanted: Iterable[UUID], found: Iterable[UUID]) -> None:
    """UsageError naming the first of ``wanted`` that is not among ``found``."""
    unknown = set(wanted) - set(found)
    if unknown:
        raise UsageError(
            f"no tenant with id {sorted(map(str, unknown))[0]}; "
            "check --tenant against the tenants table."
        )


def load(conn: Connection, wanted: Sequence[UUID]) -> tuple[Tenant, ...]:
    """Every tenant, or exactly those in ``wanted`` (UsageError for an unknown id)."""
    if not wanted:
        return tuple(Tenant(r.id, r.timezone) for r in conn.execute(ALL))
    rows = conn.execute(BY_ID, {"ids": list(wanted)}).fetchall()
    require_known(wanted, (r.id for r in rows))
    return tuple(Tenant(r.id, r.timezone) for r in rows)
