"""What every job is: a spec in the registry, and a context the runner hands it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection

from gstjobs.config import Settings

Results = dict[str, Any]


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


@dataclass(frozen=True)
class JobSpec:
    name: str
    """Canonical name: JSON ``job``, ``audit_log.details.job_name``, ``job_runs.job_name``."""
    cli_name: str
    schedule: str
    """Cron expression in GSTJOBS_TIMEZONE."""
    expected_seconds: tuple[float, float]
    max_seconds: float
    summary: str
    work: Callable[[Connection, JobContext], Results]
    """All of a run's database work for ``ctx.tenants``, inside one transaction."""
    result_keys: tuple[str, ...]
    merge: Callable[[Sequence[Mapping[str, Any]]], Results] = sum_results
