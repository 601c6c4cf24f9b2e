"""Webhook deliveries already acknowledged, so a replayed delivery is acted on once.

Forges retry a delivery (and anyone holding a captured one may replay it) with the same
delivery id (`X-GitHub-Delivery`, `X-Gitlab-Event-UUID`, `X-Request-Id`); the store keeps
the ids it has seen, in the database rather than in the process, so the dedupe holds across
restarts. The table is bounded: past `keep` ids the oldest are forgotten (forges retry
within hours, never after thousands of later deliveries). `sql.deliveries` holds the table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

KEEP = 10_000
"""Delivery ids remembered; older ones are forgotten."""


class Deliveries(Protocol):
    """The store's role for webhook delivery ids."""

    def first_delivery(
        self, forge: str, delivery_id: str, *, at: datetime, keep: int = KEEP
    ) -> bool:
        """Remember `delivery_id` of `forge`; True the first time, False for a replay."""
        ...
