"""The daemon's own decisions (which remediation to run, and how much approval it needs).

This module holds the record and the store's role for them; `sql.daemon_decisions` the
table and queries. The store keeps each decision as its indexed fields (type, subject,
context bucket, chosen option, level, confidence, outcome, run) beside the whole record as
JSON, so decisions are listed and filtered without reading the records, and an option's
outcome history in a bucket (the evidence later decisions are scored on) is one grouped
query. The table is
additive: `create_missing` adds it to a database made before it existed. Retention never
prunes it: the history is the daemon's memory of what worked.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

SETTLED = ("succeeded", "failed")
"""Outcomes that count as evidence for or against the chosen option."""


@dataclass(frozen=True, kw_only=True)
class DecisionEntry:
    """One stored decision: the indexed fields and the whole record (`record`)."""

    id: str
    at: datetime
    type: str
    subject: str
    bucket: str
    option: str | None
    level: str
    confidence: float
    outcome: str
    run_id: str | None = None
    record: dict[str, Any] = field(default_factory=dict)


class DaemonDecisions(Protocol):
    """The store's role for the daemon's decisions."""

    def put_daemon_decision(self, entry: DecisionEntry) -> None:
        """Insert the decision, or replace the one with the same id (outcome, run, ...)."""
        ...

    def add_daemon_decisions(self, entries: Iterable[DecisionEntry]) -> int:
        """Insert new decisions in one transaction (importing a history); returns how many."""
        ...

    def get_daemon_decision(self, decision_id: str) -> DecisionEntry | None: ...

    def daemon_decisions(
        self,
        *,
        type: str | None = None,
        subject: str | None = None,
        outcome: str | None = None,
        run_id: str | None = None,
        limit: int = 100,
    ) -> list[DecisionEntry]:
        """Newest first, filtered by any of the given fields."""
        ...

    def outcome_counts(self, bucket: str, options: Sequence[str]) -> dict[str, tuple[float, float]]:
        """`{option: (successes, failures)}` of settled decisions in `bucket`."""
        ...
