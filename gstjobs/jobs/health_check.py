"""automation-health-check: the seed's HealthMetrics over the last 24 hours, per tenant
and overall, with the practice's findings sent to its active admins.

The window is ``GSTJOBS_HEALTH_WINDOW_HOURS`` (default 24) before ``as_of``; the
thresholds live in ``gstjobs.health.automation``. The admins' daily findings are the
automation's and the matters' (``gstjobs.health.matters``: hearings still Scheduled a
day after their date, with the matter reference; open proceedings whose statutory
dates cannot be computed, DATA_MISSING), the same findings ``health-report`` shows.
A tenant with any finding gets one ``health_alert`` notification per active admin per
local day (the tenant's timezone): a second run the same day queues nothing more.
The results' ``level`` stays the automation's (the seed's HealthMetrics); matter
findings are counted in ``matterFindings`` and raise the alert's own level.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, text

from gstjobs.core import JobContext, Results
from gstjobs.health import matters
from gstjobs.health.automation import Finding, automation_health, merge_metrics, worst

JOB_NAME = "automation-health-check"

QUEUE_ALERTS = text(
    """
    INSERT INTO notifications (tenant_id, user_id, channel, template, payload, dedup_key, run_id)
    SELECT a.tenant_id, u.id, 'email', 'health_alert', a.payload,
           'health:' || to_char((CAST(:as_of AS timestamptz) AT TIME ZONE tn.timezone)::date,
                                'YYYY-MM-DD') || ':user:' || u.id,
           CAST(:run_id AS bigint)
    FROM jsonb_to_recordset(CAST(:alerts AS jsonb)) AS a (tenant_id uuid, payload jsonb)
    JOIN tenants tn ON tn.id = a.tenant_id
    JOIN users u ON u.tenant_id = a.tenant_id AND u.role = 'admin' AND u.is_active
    ON CONFLICT (tenant_id, channel, dedup_key) DO NOTHING
    RETURNING tenant_id
    """
)


def run(conn: Connection, ctx: JobContext) -> Results:
    hours = ctx.settings.health_window_hours
    health = automation_health(conn, ctx.tenant_ids, ctx.as_of, hours)
    about_matters: dict[object, list[Finding]] = {}
    for finding in matters.findings(conn, ctx.tenant_ids, ctx.as_of):
        about_matters.setdefault(finding.tenant_id, []).append(finding)
    per_tenant: list[dict[str, Any]] = []
    alerts: list[dict[str, Any]] = []
    for tenant in ctx.tenants:
        mine = health.only(tenant.id)
        findings = mine.findings()
        metrics = mine.metrics()
        theirs = about_matters.get(tenant.id, [])
        per_tenant.append(
            {
                "tenant_id": str(tenant.id),
                "level": metrics["level"],
                "total_executions": metrics["total_executions"],
                "success_rate": metrics["success_rate"],
                "findings": len(findings),
                "matter_findings": len(theirs),
            }
        )
        if findings or theirs:
            payload = {
                "level": worst([metrics["level"], *(f.level for f in theirs)]),
                "window_hours": hours,
                "findings": [{"level": f.level, "message": f.message} for f in findings],
                "matters": [{"level": f.level, "message": f.message} for f in theirs],
                "metrics": metrics,
            }
            alerts.append({"tenant_id": str(tenant.id), "payload": payload})
    queued: Sequence[Any] = ()
    if alerts:
        queued = conn.execute(
            QUEUE_ALERTS, {"alerts": json.dumps(alerts), "as_of": ctx.as_of, "run_id": ctx.run_id}
        ).fetchall()
    return health.metrics() | {
        "tenants": per_tenant,
        "matterFindings": sum(len(f) for f in about_matters.values()),
        "tenantsAlerted": len({row.tenant_id for row in queued}),
        "notificationsQueued": len(queued),
    }


merge = merge_metrics
