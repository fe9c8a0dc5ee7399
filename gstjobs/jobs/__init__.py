"""The job registry: every job gstjobs runs, by CLI name and canonical name.

Schedules and expected times are the seed's (CONTRACT §1); schedules are read in
GSTJOBS_TIMEZONE.
"""

from __future__ import annotations

from gstjobs.errors import UsageError
from gstjobs.jobs import sla_check
from gstjobs.jobs.base import JobSpec

JOBS: tuple[JobSpec, ...] = (
    JobSpec(
        name=sla_check.JOB_NAME,
        cli_name="sla-check",
        schedule="*/15 * * * *",
        expected_seconds=(2, 5),
        max_seconds=15,
        summary="Flag overdue tasks and SLA breaches; emit events for automation rules.",
        work=sla_check.run,
        result_keys=("overdueTasks", "newlyOverdue", "slaViolations", "rulesTriggered"),
    ),
)


def find(name: str) -> JobSpec:
    """The job called ``name`` (CLI or canonical name); UsageError listing the known ones."""
    for spec in JOBS:
        if name in (spec.cli_name, spec.name):
            return spec
    known = ", ".join(s.cli_name for s in JOBS)
    raise UsageError(f"unknown job {name!r}; choose one of: {known}.")
