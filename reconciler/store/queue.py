"""Work queued for whichever replica owns its target, claimed once.

A replica asked to do work it does not own — a webhook or an API call asking for a sync of
a source another replica reconciles, an answer, cancel, pause or resume of a run another
replica runs — queues it here instead of doing it or dropping it.
The owner takes the work queued for the targets it holds on its heartbeat; `take` removes
what it returns in the same transaction, reading with `FOR UPDATE SKIP LOCKED` so two
takers never get the same row (on SQLite, the one writer takes). Work waits for its taker:
an action on a run stays queued until a replica running that run takes it, so one whose
replica died is taken by the next. Once taken it is the taker's (a sync lost with its taker
costs nothing: the next owner syncs on takeover anyway).
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
RUN_ACTION = "run-action"
"""An action on a run asked of a replica that does not run it, for the replica that does
(target: the run's id; payload: `action` — `answer`, `cancel`, `pause` or `resume` — and
for an answer `step`, `approver`, `approved`, `comment`, `role`)."""
ANSWER = "answer"
"""What earlier versions queued a forwarded answer as (a run action's payload without
`action`); still taken as an answer, so none queued across an upgrade is lost."""


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

    def take(
        self, kind: str | tuple[str, ...], *, targets: Iterable[str], limit: int = 100
    ) -> list[QueuedWork]:
        """Remove and return the oldest queued work of `kind` (or of any of several kinds)
        for `targets`, oldest first."""
        ...

    def claim(self, key: str, *, at: datetime, quiet: timedelta) -> bool:
        """Claim `key` (a scheduled job's firing) at `at`: True unless it was claimed less
        than `quiet` before, by anyone. One row per key, rewritten by each claim."""
        ...
