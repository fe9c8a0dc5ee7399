"""Stable identifiers: the same seed gives the same practices, and every load the same forums."""

from __future__ import annotations

import uuid

DEMO_NAMESPACE = uuid.UUID("6f0c1d2e-3b4a-5c6d-8e9f-0a1b2c3d4e5f")


def tenant_ids(count: int, seed: int) -> list[uuid.UUID]:
    return [uuid.uuid5(DEMO_NAMESPACE, f"tenant/{seed}/{i}") for i in range(count)]


def court_id(state_code: str, forum: str) -> uuid.UUID:
    return uuid.uuid5(DEMO_NAMESPACE, f"forum/{state_code}/{forum}")
