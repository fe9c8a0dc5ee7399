"""Running a job in-process, as the CLI would, for integration tests."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from gstjobs import jobs, runner
from gstjobs.config import Settings
from gstjobs.db import resolve


def run_job(
    settings: Settings,
    name: str,
    *,
    as_of: datetime | None = None,
    tenants: tuple[UUID, ...] = (),
    dry_run: bool = False,
) -> runner.RunOutcome:
    """Tests run at crafted moments, so they write ``--force``-ed as the operator would."""
    return runner.execute(
        jobs.find(name),
        settings,
        resolve(settings),
        runner.RunRequest(
            tenants=tenants, as_of=as_of, dry_run=dry_run, trigger="manual", force=True
        ),
    )
