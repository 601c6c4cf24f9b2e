"""Optimization runs on a schedule: every `optimization.interval` of each source's
repository (read again at every tick, so a commit changes it), on the daemon's loop, with
the blocking run itself on a worker thread. A run that fails is logged and tried again at
the next interval; the daemon goes on serving.

In the daemon (`claims` given) a due run fires once across every replica sharing the
store: each replica's tick queues it in the store's run queue (`store.runqueue`, kind
`optimization`) with `enqueue_once`, which queues nothing while one is queued for the
source or while a run of the source started less than an interval ago (on any replica, by
the schedule or on demand); the replica that owns the source claims it on its next tick
and runs it. A run found running when claimed — its claimer died in the middle — is
closed as failed, not run again (its proposal commits may be half made); the next interval
runs anew. The workspaces' store should be fenced by `claims.fence` (as `reconciler
serve` builds them), so a replica whose lease lapsed writes no more of a run. Without
`claims` (a process alone with its store) a due run runs here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import timedelta

from reconciler.errors import ReconcilerError
from reconciler.optimize import proposals, runner
from reconciler.reconcile.runclaims import RunClaims
from reconciler.run import triggers
from reconciler.run.runlog import RunLog
from reconciler.runstate import RunRecord, RunStatus
from reconciler.store.interfaces import StoreError
from reconciler.store.runqueue import QueuedRun

log = logging.getLogger(__name__)
INTERRUPTED = "interrupted: the replica running it stopped before it finished"


async def scheduled(
    stop: asyncio.Event,
    *,
    workspaces: Sequence[proposals.Workspace],
    prometheus: str | None,
    tick: float = 5.0,
    claims: RunClaims | None = None,
    names: Sequence[str] = (),
) -> None:
    """Run each workspace's optimizations when due, until `stop` is set; with `claims`,
    through the store's queue, `names[i]` being the source of `workspaces[i]`."""
    if not workspaces:
        return
    client = triggers.Prometheus(prometheus) if prometheus else None
    last: dict[int, float] = {}
    by_name = dict(zip(names, workspaces, strict=True)) if claims is not None else {}
    if claims is not None:  # a previous process under this replica's name: its claims
        try:
            await asyncio.to_thread(claims.release)
        except StoreError as exc:  # they are free once this replica's lease changes hands
            log.error("cannot give back the claimed optimization runs: %s", exc)
    while not stop.is_set():
        for number, ws in enumerate(workspaces):
            if claims is None:
                await _maybe_run(ws, client=client, last=last, number=number)
            else:
                await _maybe_queue(ws, name=names[number], claims=claims)
        if claims is not None:
            await _run_claimed(claims, by_name, client=client)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), tick)


async def _maybe_run(
    ws: proposals.Workspace,
    *,
    client: triggers.Prometheus | None,
    last: dict[int, float],
    number: int,
) -> None:
    try:
        every = await asyncio.to_thread(runner.interval, ws)
        now = ws.clock.monotonic()
        if every <= 0 or (number in last and now - last[number] < every):
            return
        last[number] = now
        await _run(ws, client=client)
    except (ReconcilerError, OSError) as exc:
        log.warning("optimization run of %s failed: %s", ws.source.location, exc)


async def _maybe_queue(ws: proposals.Workspace, *, name: str, claims: RunClaims) -> None:
    """Queue the source's run when it is due (see the module docstring)."""
    try:
        every = await asyncio.to_thread(runner.interval, ws)
        if every <= 0:
            return
        record = runner.pending(ws, trigger="schedule")
        since = record.started_at - timedelta(seconds=every) if record.started_at else None
        queue = claims.store.enqueue_once
        if await asyncio.to_thread(queue, record, target=name, at=ws.clock.now(), since=since):
            log.info("optimization run %s of %s queued", record.id, name)
    except (ReconcilerError, OSError) as exc:  # StoreError is a ReconcilerError
        log.warning("optimization run of %s not queued: %s", ws.source.location, exc)


async def _run_claimed(
    claims: RunClaims,
    workspaces: dict[str, proposals.Workspace],
    *,
    client: triggers.Prometheus | None,
) -> None:
    """Claim and run the optimization runs queued for the sources this replica owns."""
    try:
        claimed = await asyncio.to_thread(claims.claim, workspaces)
    except StoreError as exc:
        log.error("cannot claim queued optimization runs: %s", exc)
        return
    for queued in claimed:
        try:
            await _run_queued(queued, ws=workspaces[queued.target], client=client)
        except (ReconcilerError, OSError) as exc:
            log.warning("optimization run %s of %s failed: %s", queued.run_id, queued.target, exc)
        finally:
            await asyncio.to_thread(claims.finish, queued.run_id)


async def _run_queued(
    queued: QueuedRun, *, ws: proposals.Workspace, client: triggers.Prometheus | None
) -> None:
    record = await asyncio.to_thread(ws.store.get_run, queued.run_id)
    if record is None or record.status is not RunStatus.PENDING:
        if record is not None and record.status is RunStatus.RUNNING:
            runs = RunLog(ws.store)
            runs.finish(record, status=RunStatus.FAILED, at=ws.clock.now(), error=INTERRUPTED)
        return
    await _run(ws, client=client, queued=record)


async def _run(
    ws: proposals.Workspace,
    *,
    client: triggers.Prometheus | None,
    queued: RunRecord | None = None,
) -> None:
    result = await asyncio.to_thread(
        runner.run, ws, prometheus=client, trigger="schedule", queued=queued
    )
    log.info(
        "optimization run of %s: %d proposals, %d reverts",
        ws.source.location,
        len(result.proposals),
        len(result.reverts),
    )
