"""How much history the store keeps: bounds by count and by age for every growing table.

The decision log, events, finished runs and simulations, and each source's revisions are
pruned by `Store.apply_retention`; an object's status history is trimmed on every write.
What is current is never pruned: unfinished runs and simulations, object statuses and the
current violations (the latest decision per policy and resource) stay however old they are.
The audit log (`audit`) is never pruned: a bounded chain could not show what was removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class RetentionSettings(BaseModel):
    """Bounds of the store; `store.retention` in the settings file."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    max_decisions: int = Field(default=200_000, ge=1)
    """Decision-log rows kept, newest first."""
    decision_max_age: timedelta = timedelta(days=30)
    max_events: int = Field(default=100_000, ge=1)
    event_max_age: timedelta = timedelta(days=14)
    max_runs: int = Field(default=10_000, ge=1)
    """Finished runs kept (with their steps); unfinished runs are never pruned."""
    run_max_age: timedelta = timedelta(days=30)
    """Age of a finished run, counted from when it finished."""
    max_simulations: int = Field(default=1_000, ge=1)
    """Finished simulations kept (with their reports); queued and running ones stay."""
    simulation_max_age: timedelta = timedelta(days=30)
    """Age of a finished simulation, counted from when it finished."""
    max_revisions_per_source: int = Field(default=100, ge=1)
    history_per_object: int = Field(default=20, ge=0)
    """Newest entries of `ObjectStatus.history` kept on each write."""


@dataclass(frozen=True, kw_only=True)
class RetentionReport:
    """How many rows one `apply_retention` removed from each table."""

    decisions: int = 0
    events: int = 0
    runs: int = 0
    revisions: int = 0
    simulations: int = 0

    @property
    def total(self) -> int:
        return self.decisions + self.events + self.runs + self.revisions + self.simulations
