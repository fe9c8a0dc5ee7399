"""The run ledger and the lock: every job runs through ``execute``.

A run holds a per-job session advisory lock on its ledger connection, so a second
run of the same job anywhere does nothing and is recorded ``skipped``. The ledger
(``job_runs``) is written on that autocommit connection, apart from the job's own
transaction, so a job that fails and rolls back is still recorded. A run whose
process died is found by its backend (pid and start time) no longer existing in
``pg_stat_activity`` and is marked ``abandoned``.

The job's work runs first over all selected tenants in one transaction (the fast,
set-based path). If that fails it is retried tenant by tenant, each in its own
transaction, so one tenant's bad data rolls back only that tenant's changes.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from types import FrameType
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Engine, text

from gstjobs.config import Settings
from gstjobs.core import JobContext, JobSpec, Results, Tenant
from gstjobs.db import Database, connect, is_connection_lost, make_engine
from gstjobs.errors import ConfigError, DatabaseUnavailable, GstjobsError, JobFailed, first_line
from gstjobs.migrate import available
from gstjobs.tenants import load as load_tenants

log = logging.getLogger(__name__)

SYSTEM_TENANT = UUID(int=0)
"""``audit_log.tenant_id`` of run-level rows: a run spans tenants, and the column is NOT NULL."""

TRY_LOCK = text("SELECT pg_try_advisory_lock(hashtext('gstjobs'), hashtext(:job))")
UNLOCK = text("SELECT pg_advisory_unlock(hashtext('gstjobs'), hashtext(:job))")
MY_BACKEND = text("SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()")
ABANDON_DEAD = text(
    """
    UPDATE job_runs r
    SET status = 'abandoned',
        finished_at = clock_timestamp(),
        duration_ms = (extract(epoch FROM clock_timestamp() - r.started_at) * 1000)::int,
        error = 'the process running this job died before recording an outcome'
    WHERE r.status = 'running'
      -- A live run holds its job's advisory lock on its ledger session. pg_locks shows
      -- every session's locks to every role (pg_stat_activity hides details of other
      -- roles' sessions), so a monitoring user cannot mistake a live run for a dead one.
      AND NOT EXISTS (SELECT 1 FROM pg_locks l
                      WHERE l.locktype = 'advisory' AND l.granted
                        AND l.pid = r.backend_pid
                        AND l.classid = CAST(hashtext('gstjobs') AS oid)
                        AND l.objid = CAST(hashtext(r.job_name) AS oid)
                        AND l.objsubid = 2)
    RETURNING r.id
    """
)
START = text(
    """
    INSERT INTO job_runs (job_name, status, trigger, host, pid, backend_pid, backend_start,
                          as_of, dry_run, tenant_filter, started_at)
    VALUES (:job, :status, :trigger, :host, :pid, :backend_pid, :backend_start,
            :as_of, :dry_run, :tenant_filter, :started_at)
    RETURNING id
    """
)
FINISH = text(
    """
    WITH done AS (
        UPDATE job_runs
        SET status = :status, finished_at = clock_timestamp(), duration_ms = :duration_ms,
            as_of = :as_of, results = CAST(:results AS jsonb),
            error = :error, error_details = :error_details
        WHERE id = :run_id
        RETURNING id, job_name, status, duration_ms, dry_run
    )
    INSERT INTO audit_log (tenant_id, action_type, entity_type, details)
    SELECT :system_tenant, 'background_job_execution', 'background_job',
           CAST(:audit_details AS jsonb)
    FROM done
    """
)
APPLIED = text("SELECT version FROM gstjobs_migrations")


@dataclass(frozen=True)
class RunRequest:
    tenants: tuple[UUID, ...] = ()
    as_of: datetime | None = None
    dry_run: bool = False
    trigger: str = "manual"


@dataclass(frozen=True)
class TenantFailure:
    tenant_id: UUID
    error: str


@dataclass(frozen=True)
class RunOutcome:
    run_id: int
    job: str
    status: str
    """success, failed or skipped."""
    started_at: datetime
    duration_s: float
    as_of: datetime | None
    dry_run: bool
    database: str
    results: Results = field(default_factory=dict)
    error: str | None = None
    error_details: str | None = None
    failed_tenants: tuple[UUID, ...] = ()

    @property
    def exit_code(self) -> int:
        return 1 if self.status == "failed" else 0


class Interrupted(BaseException):
    """The run was stopped by a signal."""


def execute(spec: JobSpec, settings: Settings, db: Database, request: RunRequest) -> RunOutcome:
    engine = make_engine(db, settings, purpose=spec.cli_name)
    try:
        with connect(engine, db.label, autocommit=True) as ledger:
            require_schema(ledger)
            abandoned = ledger.execute(ABANDON_DEAD).fetchall()
            if abandoned:
                log.warning("marked %d dead run(s) abandoned", len(abandoned))
            tenants = load_tenants(ledger, request.tenants)
            if not ledger.execute(TRY_LOCK, {"job": spec.name}).scalar_one():
                return _record_skipped(ledger, spec, db, request)
            try:
                with _signals_as_exceptions():
                    return _locked_run(engine, ledger, spec, settings, db, request, tenants)
            finally:
                if not ledger.closed and not ledger.invalidated:
                    ledger.execute(UNLOCK, {"job": spec.name})
    finally:
        engine.dispose()


def require_schema(conn: Connection) -> None:
    """ConfigError unless every shipped migration is applied."""
    if not conn.execute(text("SELECT to_regclass('gstjobs_migrations') IS NOT NULL")).scalar():
        raise ConfigError("the database has no gstjobs schema; run `gstjobs db upgrade` first.")
    applied = set(conn.execute(APPLIED).scalars())
    missing = [m.version for m in available() if m.version not in applied]
    if missing:
        raise ConfigError(
            f"{len(missing)} migration(s) pending ({', '.join(missing)}); "
            "run `gstjobs db upgrade` first."
        )


def _record_skipped(
    ledger: Connection, spec: JobSpec, db: Database, request: RunRequest
) -> RunOutcome:
    row = _backend(ledger)
    now = ledger.execute(text("SELECT clock_timestamp()")).scalar_one()
    run_id = ledger.execute(START, _start_params(spec, request, row, "skipped", now)).scalar_one()
    message = "another run of this job holds its lock"
    results: Results = {key: 0 for key in spec.result_keys}
    _finish(
        ledger,
        spec,
        run_id,
        None,
        request.as_of,
        "skipped",
        results,
        message,
        None,
        dry_run=request.dry_run,
    )
    log.info("skipped: %s", message)
    return RunOutcome(
        run_id,
        spec.name,
        "skipped",
        now,
        0.0,
        request.as_of,
        request.dry_run,
        db.label,
        results,
        error=message,
    )


def _locked_run(
    engine: Engine,
    ledger: Connection,
    spec: JobSpec,
    settings: Settings,
    db: Database,
    request: RunRequest,
    tenants: tuple[Tenant, ...],
) -> RunOutcome:
    clock = time.monotonic()
    started_at = ledger.execute(text("SELECT clock_timestamp()")).scalar_one()
    run_id = ledger.execute(
        START, _start_params(spec, request, _backend(ledger), "running", started_at)
    ).scalar_one()
    as_of = request.as_of or started_at
    ctx = JobContext(run_id, as_of, tenants, request.dry_run, settings)
    results: Results = {key: 0 for key in spec.result_keys}
    failures: list[TenantFailure] = []
    error: GstjobsError | None = None
    sending = 0.0
    try:
        if spec.work is not None:
            results |= _work(engine, db, spec, ctx, failures)
        if spec.send is not None:
            # After the commit, so a crash can never send an uncommitted row. A job's
            # duration is its own work: its sending is reported (and judged) apart.
            began = time.monotonic()
            results |= spec.send(engine, ctx)
            if spec.work is not None:
                sending = time.monotonic() - began
                results["deliverySeconds"] = round(sending, 3)
    except (DatabaseUnavailable, Interrupted, KeyboardInterrupt) as exc:
        if isinstance(exc, DatabaseUnavailable):
            reason = exc.message
        else:
            reason = f"interrupted by {exc.args[0] if exc.args else 'SIGINT'}"
        # Best effort: when the database itself went away, there is nowhere to record.
        with suppress(Exception):
            _finish(
                ledger,
                spec,
                run_id,
                clock,
                as_of,
                "failed",
                results,
                reason,
                None,
                dry_run=ctx.dry_run,
            )
        raise
    except JobFailed as exc:
        # A job that fails on purpose (delivery with its channel down, say) says what it
        # did up to then; the run is recorded failed with those results.
        results |= exc.results
        error = exc
    except Exception as exc:
        if is_connection_lost(exc):
            raise DatabaseUnavailable(f"lost the connection to {db.label}") from exc
        log.debug("job failed", exc_info=True)
        error = GstjobsError(f"{type(exc).__name__}: {first_line(exc)}")
    if failures:
        error = GstjobsError(_describe(failures))
    status = "failed" if error else "success"
    details = error.details if error else None
    if failures:
        results["failedTenants"] = [str(f.tenant_id) for f in failures]
    _finish(
        ledger,
        spec,
        run_id,
        clock + sending,
        as_of,
        status,
        results,
        error.message if error else None,
        details,
        dry_run=ctx.dry_run,
    )
    return RunOutcome(
        run_id,
        spec.name,
        status,
        started_at,
        time.monotonic() - clock - sending,
        as_of,
        request.dry_run,
        db.label,
        results,
        error.message if error else None,
        details,
        tuple(f.tenant_id for f in failures),
    )


def _work(
    engine: Engine,
    db: Database,
    spec: JobSpec,
    ctx: JobContext,
    failures: list[TenantFailure],
) -> Results:
    try:
        return _in_transaction(engine, db, spec, ctx)
    except Exception as exc:
        if isinstance(exc, DatabaseUnavailable) or is_connection_lost(exc):
            raise
        if len(ctx.tenants) <= 1:
            failures.extend(TenantFailure(t.id, first_line(exc)) for t in ctx.tenants)
            if not ctx.tenants:
                raise
            return {}
        log.info(
            "run over %d tenants failed (%s); retrying tenant by tenant",
            len(ctx.tenants),
            type(exc).__name__,
        )
    parts: list[Results] = []
    for tenant in ctx.tenants:
        try:
            parts.append(_in_transaction(engine, db, spec, ctx.only(tenant)))
        except Exception as exc:
            if isinstance(exc, DatabaseUnavailable) or is_connection_lost(exc):
                raise
            log.info("tenant %s failed: %s", tenant.id, type(exc).__name__)
            failures.append(TenantFailure(tenant.id, first_line(exc)))
    return spec.merge(parts)


def _in_transaction(engine: Engine, db: Database, spec: JobSpec, ctx: JobContext) -> Results:
    assert spec.work is not None
    with connect(engine, db.label) as conn:
        tx = conn.begin()
        try:
            results = spec.work(conn, ctx)
        except BaseException:
            tx.rollback()
            raise
        if ctx.dry_run:
            tx.rollback()
        else:
            tx.commit()
        return results


def _finish(
    ledger: Connection,
    spec: JobSpec,
    run_id: int,
    clock: float | None,
    as_of: datetime | None,
    status: str,
    results: Results,
    error: str | None,
    error_details: str | None,
    *,
    dry_run: bool,
) -> None:
    """Close the run record and, in the same statement, write its audit_log row.

    Every run leaves one row (CONTRACT §3). Its ``status`` is ``success`` or
    ``failed``; a skipped run is a ``success`` that did nothing (``skipped: true``,
    no execution time) and a dry run says ``dry_run: true``.
    """
    if ledger.invalidated or ledger.closed:
        return
    duration_ms = int((time.monotonic() - clock) * 1000) if clock is not None else 0
    audit: dict[str, Any] = {
        "job_name": spec.name,
        "status": "failed" if status == "failed" else "success",
        "execution_time_ms": duration_ms,
        "run_id": run_id,
        **{_snake(k): v for k, v in results.items()},
    }
    if status == "skipped":
        audit["skipped"] = True
    if dry_run:
        audit["dry_run"] = True
    if error:
        audit["error"] = error
    ledger.execute(
        FINISH,
        {
            "run_id": run_id,
            "status": status,
            "duration_ms": duration_ms,
            "as_of": as_of,
            "results": json.dumps(results, default=str),
            "error": error,
            "error_details": error_details,
            "system_tenant": SYSTEM_TENANT,
            "audit_details": json.dumps(audit, default=str),
        },
    )


def _start_params(
    spec: JobSpec, request: RunRequest, backend: Any, status: str, started_at: datetime
) -> dict[str, Any]:
    return {
        "job": spec.name,
        "status": status,
        "trigger": request.trigger,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "backend_pid": backend.pid,
        "backend_start": backend.backend_start,
        "as_of": request.as_of,
        "dry_run": request.dry_run,
        "tenant_filter": list(request.tenants) or None,
        "started_at": started_at,
    }


def _backend(conn: Connection) -> Any:
    return conn.execute(MY_BACKEND).one()


def _describe(failures: Sequence[TenantFailure]) -> str:
    first = failures[0]
    more = f" (and {len(failures) - 1} more tenant(s))" if len(failures) > 1 else ""
    return f"tenant {first.tenant_id} failed: {first.error}{more}"


def _snake(key: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)


@contextmanager
def _signals_as_exceptions() -> Iterator[None]:
    """SIGTERM (systemd stop, cron kill) ends the run as failed rather than silently."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
