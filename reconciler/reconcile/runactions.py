"""Actions on a run asked of a replica that does not run it, applied by the one that does.

With several replicas sharing a store, each run is run by one of them (`runclaims`), but an
answer to one of its approvals, or a cancel, pause or resume of it, may be asked of any.
The replica asked queues the action in the store's work queue for the run's id
(`queue.RUN_ACTION`, by `runclaims.forward`); the replica running the run takes the
actions queued for its live runs on its heartbeat and applies them oldest first, as if it
had been asked itself (`take_live`). An action waits in the queue until a replica running
its run takes it, so one forwarded to a replica that dies first is taken by the run's next
claimer, before that claimer starts the run again (`take_for`, `start`): a cancel then
stops the run before any further step runs, a pause before the next one launches. An
action the engine refuses when it is applied (an approver a step does not allow, a step no
longer waiting) is logged there: the replica asked accepted it (202) when it forwarded it.
One that arrives after its run finished is dropped with a log line (`drop_late`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.run.engine import Engine
from reconciler.runstate import RunRecord, RunStatus
from reconciler.store import queue
from reconciler.store.interfaces import Store, StoreError
from reconciler.store.queue import QueuedWork

log = logging.getLogger(__name__)

ANSWER, CANCEL, PAUSE, RESUME = "answer", "cancel", "pause", "resume"
STEERING = (CANCEL, PAUSE, RESUME)
"""The actions that steer a run (`POST /api/v1/runs/{id}/<action>`)."""
_KINDS = (queue.RUN_ACTION, queue.ANSWER)  # ANSWER: queued by an earlier version
_LIMIT = 1000  # actions taken at once; the rest wait for the next heartbeat
Ended = Callable[[RunRecord], Awaitable[None]]
"""What publishes the outcome of a run that ended without running here (`Automation.ended`)."""


class RunFinished(ReconcilerError, ValueError):
    """A run asked to be steered has finished already: there is nothing to steer."""

    def __init__(self, run_id: str, *, status: RunStatus, action: str) -> None:
        super().__init__(f"run {run_id} has finished ({status.value}): it cannot {action} now")
        self.run_id, self.status, self.action = run_id, status, action


def payload(action: str, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a queued action carries: its name and, for an answer, the answer."""
    return {"action": action, **(given or {})}


def action_of(work: QueuedWork) -> str:
    """The action a queued row asks for (an earlier version's rows are answers)."""
    return str(work.payload.get("action", ANSWER))


async def take_for(store: Store, run_ids: Iterable[str]) -> list[QueuedWork]:
    """Remove and return the actions queued for `run_ids`, oldest first (a store error is
    logged: they stay queued for the next take)."""
    chosen = sorted(set(run_ids))
    if not chosen:
        return []
    try:
        return await asyncio.to_thread(store.take, _KINDS, targets=chosen, limit=_LIMIT)
    except StoreError as exc:
        log.error("cannot take forwarded run actions: %s", exc)
        return []


async def apply(engine: Engine, work: QueuedWork) -> None:
    """Act on one forwarded action as if asked here; a refusal is logged."""
    run_id, action, given = work.target, action_of(work), work.payload
    try:
        if action == ANSWER:
            await engine.approve(
                run_id,
                str(given["step"]),
                approver=str(given["approver"]),
                approved=bool(given["approved"]),
                comment=str(given.get("comment") or ""),
                role=given.get("role"),
            )
        elif action in STEERING:
            await getattr(engine, action)(run_id)
        else:
            log.error("forwarded action %r for run %s: not an action", action, run_id)
            return
    except ReconcilerError as exc:  # refused: the approver, or the step has moved on
        log.error("forwarded %s of run %s refused: %s", action, run_id, exc)
        return
    log.info("run %s: forwarded %s applied", run_id, action)


async def take_live(store: Store, engine: Engine) -> int:
    """Apply the actions other replicas forwarded for the runs live here; how many."""
    taken = await take_for(store, engine.live())
    for work in taken:
        await apply(engine, work)
    return len(taken)


async def start(
    engine: Engine, run_id: str, *, taken: Iterable[QueuedWork], ended: Ended | None = None
) -> bool:
    """Start the claimed run `run_id` (`Engine.adopt`) after the actions forwarded for it
    while nobody ran it (`taken`, from `take_for`): cancelled where it lies when one is a
    cancel (the closed run handed to `ended`), else started and then acted on in order.
    Whether it runs here now."""
    taken = [w for w in taken if w.target == run_id]
    if any(action_of(w) == CANCEL for w in taken):
        try:
            await engine.cancel(run_id)
            log.info("run %s: cancelled before it started again (a forwarded cancel)", run_id)
            if ended is not None:
                await ended(await engine.get(run_id))
            return False
        except ReconcilerError as exc:
            log.error("forwarded cancel of run %s refused: %s", run_id, exc)
    if not await engine.adopt(run_id):
        return False
    for work in taken:
        await apply(engine, work)
    return True


async def drop_late(store: Store, run: RunRecord) -> None:
    """Drop the actions forwarded for `run` that arrived after it finished, logging each."""
    for work in await take_for(store, [run.id]):
        log.warning(
            "forwarded %s of run %s came after it finished (%s): dropped",
            action_of(work),
            run.id,
            run.status.value,
        )
