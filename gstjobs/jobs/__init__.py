"""The job registry: every job gstjobs runs, by CLI name and canonical name.

Each job module owns its ``SPEC`` (schedule, expected and maximum time from the
seed, CONTRACT §1); this list only gathers them. Schedules are read in
GSTJOBS_TIMEZONE.
"""

from __future__ import annotations

from gstjobs.core import JobSpec
from gstjobs.errors import UsageError
from gstjobs.jobs import (
    analytics_snapshot,
    deadline_alerts,
    deliver,
    health_check,
    hearing_reminders,
    limitation_watch,
    sla_check,
)

JOBS: tuple[JobSpec, ...] = (
    sla_check.SPEC,
    hearing_reminders.SPEC,
    analytics_snapshot.SPEC,
    deadline_alerts.SPEC,
    health_check.SPEC,
    deliver.SPEC,
    limitation_watch.SPEC,
)


def find(name: str) -> JobSpec:
    """The job called ``name`` (CLI or canonical name); UsageError listing the known ones."""
    for spec in JOBS:
        if name in (spec.cli_name, spec.name):
            return spec
    known = ", ".join(s.cli_name for s in JOBS)
    raise UsageError(f"unknown job {name!r}; choose one of: {known}.")
