"""Work queued for whichever replica owns its target, claimed once.

A replica asked to do work it does not own — a webhook or an API call asking for a sync of
a source another replica reconciles, an approval of a step of a run another replica runs —
queues it here instead of doing it or dropping it.
The owner takes the work queued for the targets it holds on its heartbeat; `take` removes
what it returns in the same transaction, reading with `FOR UPDATE SKIP LOCKED` so two
takers never get the same row (on SQLite, the one writer takes). Queued work is requests
that are safe to lose with their taker (a sync: the next owner syncs on takeover anyway).
`claim` is the same promise for scheduled work every replica fires: the first replica to
claim a job's firing runs it, the others skip it.
`sql.queue` holds the table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

SYNC = "sync"
"""A request to reconcile a source now (target: the source's name; payload: `reason`)."""
ANSWER = "answer"
"""An approval answered on a replica that does not run the run (target: the run's id;
payload: `step`, `approver`, `approved`, `comment`, `role`), for the replica that does."""


@dataclass(frozen=True, kw_only=True)
class QueuedWork:
    id: int
    kind: str
    target: str
    queued_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)


class Queue(Protocol):
    """The store's role for queued work (see the module docstring)."""

    def enqueue(self, kind: str, target: str, *, payload: dict[str, Any], at: datetime) -> int:
        """Queue work for `target`; its id."""
        ...

    def take(self, kind: str, *, targets: Iterable[str], limit: int = 100) -> list[QueuedWork]:
        """Remove and return the oldest queued work of `kind` for `targets`, oldest first."""
        ...

    def claim(self, key: str, *, at: datetime, quiet: timedelta) -> bool:
        """Claim `key` (a scheduled job's firing) at `at`: True unless it was claimed less
        than `quiet` before, by anyone. One row per key, rewritten by each claim."""
        ...
