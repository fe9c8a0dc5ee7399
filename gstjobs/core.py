"""The core types every layer shares: what a job is, and what a run hands it.

These live below every package that uses them (jobs, automation, notify, analytics,
health, the runner), so no lower layer ever imports the job registry or the runner
to learn what a job or a tenant is. Nothing here touches the database or the clock;
SQLAlchemy types are named for the type checker only, so importing this module
costs nothing at start-up.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

    from gstjobs.config import Settings

Results = dict[str, Any]

RUN_STATUSES = ("running", "success", "failed", "skipped", "abandoned")
"""What ``job_runs.status`` may say."""


class Progress(Protocol):
    """Where long work says how far it is (a terminal shows it; cron sees nothing)."""

    def step(self, what: str) -> None:
        """A new phase begins: ``flagging overdue tasks``."""

    def advance(self, done: int, total: int | None = None) -> None:
        """Within the phase, ``done`` of ``total`` units are done."""


class Silent:
    """Progress that goes nowhere: under cron, in a pipe, with --json, in tests."""

    def step(self, what: str) -> None:
        return None

    def advance(self, done: int, total: int | None = None) -> None:
        return None


SILENT = Silent()


@dataclass(frozen=True)
class Tenant:
    id: UUID
    timezone: str


@dataclass(frozen=True)
class JobContext:
    run_id: int
    as_of: datetime
    """Aware, UTC: the moment the job runs as if the clock showed."""
    tenants: tuple[Tenant, ...]
    dry_run: bool
    settings: Settings
    progress: Progress = SILENT

    @property
    def tenant_ids(self) -> list[UUID]:
        return [t.id for t in self.tenants]

    def only(self, tenant: Tenant) -> JobContext:
        return replace(self, tenants=(tenant,))


def sum_results(parts: Sequence[Mapping[str, Any]]) -> Results:
    """Merge per-tenant results: numbers add up, lists concatenate."""
    merged: Results = {}
    for part in parts:
        for key, value in part.items():
            if key not in merged:
                merged[key] = list(value) if isinstance(value, list) else value
            elif isinstance(value, bool) or not isinstance(value, int | float | list):
                merged[key] = value
            elif isinstance(value, list):
                merged[key].extend(value)
            else:
                merged[key] += value
    return merged


Work = Callable[["Connection", JobContext], Results]
"""A job's database work for ``ctx.tenants``, inside one transaction the runner owns."""

Send = Callable[["Engine", JobContext], Results]
"""What a job hands to the outside world after its work is committed (delivery).

It runs on its own connections, never inside the job's transaction, so a crash can
never send a row that was not committed. It must honour ``ctx.dry_run`` itself."""


CATCH_UP = ("latest", "each-day", "today-only")
"""What ``run-due`` does about scheduled slots that no run served:

- ``latest``: run once, for the latest slot (the SLA check: the next run sees the present);
- ``each-day``: run once for each missed day within the catch-up window, as of that
  day's slot (the nightly analytics snapshot);
- ``today-only``: run the latest slot only if it is still the same local day (a
  reminder or a digest for a day that has passed helps nobody)."""
OVERLAP = ("skip", "buffer-one")
"""What ``run-due`` does when a slot comes while the job's previous run still works:
``skip`` records the slot skipped; ``buffer-one`` runs it as soon as the run ends."""


@dataclass(frozen=True)
class JobSpec:
    """A job, as the registry (``gstjobs.jobs``) declares it.

    Its code lives in ``module``: ``run(conn, ctx)`` (its database work, inside one
    transaction; absent for a job that only sends), and optionally ``send(engine,
    ctx)`` (what it hands to the outside world after the commit) and ``merge(parts)``
    (how per-practice results add up). The module is imported only when the job runs,
    so the registry costs nothing at start-up."""

    name: str
    """Canonical name: JSON ``job``, ``audit_log.details.job_name``, ``job_runs.job_name``."""
    cli_name: str
    schedule: str
    """Cron expression in GSTJOBS_TIMEZONE."""
    expected_seconds: tuple[float, float]
    max_seconds: float
    summary: str
    module: str
    result_keys: tuple[str, ...]
    catch_up: str = "latest"
    catch_up_days: int = 0
    """How far back ``each-day`` catches up."""
    overlap: str = "skip"
    overrides: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    """``run``/``send``/``merge`` given in code instead of the module (a backfill)."""

    def _part(self, name: str) -> Any:
        if name in self.overrides:
            return self.overrides[name]
        return getattr(importlib.import_module(self.module), name, None)

    @property
    def work(self) -> Work | None:
        """All of a run's database work for ``ctx.tenants``, inside one transaction;
        None for a job that only sends (delivery)."""
        part: Work | None = self._part("run")
        return part

    @property
    def send(self) -> Send | None:
        """Sending after commit. For a job with ``work`` its time is reported apart, as
        ``deliverySeconds``, and is not part of the job's duration; for a job without
        ``work`` sending is the job."""
        part: Send | None = self._part("send")
        return part

    @property
    def merge(self) -> Callable[[Sequence[Mapping[str, Any]]], Results]:
        part: Callable[[Sequence[Mapping[str, Any]]], Results] | None = self._part("merge")
        return part or sum_results
