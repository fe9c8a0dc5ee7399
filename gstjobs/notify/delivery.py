"""Delivery of the outbox (issue 4 fills this in). Until then nothing is sent."""

from __future__ import annotations

from sqlalchemy import Engine

from gstjobs.jobs.base import JobContext, Results


def deliver(engine: Engine, ctx: JobContext) -> Results:
    """Send what is pending and due for ``ctx.tenants``; called by the runner after commit."""
    return {}
