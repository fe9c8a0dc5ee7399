"""SLA policy: resolution hours per priority, the same for the SLA check and analytics."""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_SLA_HOURS: Mapping[str, int] = {"Critical": 24, "High": 72, "Medium": 168, "Low": 336}
"""Where a tenant has no ``sla_policies`` row for a priority."""

POLICY_CTE = """
policy AS (
    SELECT tn.id AS tenant_id, d.priority,
           COALESCE(sp.resolution_hours, d.hours) AS hours
    FROM tenants tn
    CROSS JOIN (VALUES ('Critical', CAST(:h_critical AS integer)),
                       ('High', CAST(:h_high AS integer)),
                       ('Medium', CAST(:h_medium AS integer)),
                       ('Low', CAST(:h_low AS integer))) AS d (priority, hours)
    LEFT JOIN sla_policies sp ON sp.tenant_id = tn.id AND sp.priority = d.priority
    WHERE tn.id = ANY(:tenants)
)
"""
"""A CTE ``policy (tenant_id, priority, hours)`` for the tenants bound to ``:tenants``;
bind ``policy_params()`` with it."""


def policy_params(hours: Mapping[str, int] = DEFAULT_SLA_HOURS) -> dict[str, int]:
    return {f"h_{priority.lower()}": value for priority, value in hours.items()}
