"""The rules engine (issue 3 fills this in): evaluates active automation rules for
pending events. Until then no rule runs and events stay pending."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from gstjobs.jobs.base import JobContext


@dataclass(frozen=True)
class Fired:
    executed: int
    failed: int


def process_pending(conn: Connection, ctx: JobContext) -> Fired:
    return Fired(executed=0, failed=0)
