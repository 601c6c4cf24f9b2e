"""Optimization runs on a schedule: every `optimization.interval` of each local source's
repository (read again at every tick, so a commit changes it), on the daemon's loop, with
the blocking run itself on a worker thread. A run that fails is logged and tried again at
the next interval; the daemon goes on serving."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from reconciler.errors import ReconcilerError
from reconciler.optimize import proposals, runner
from reconciler.run import triggers

log = logging.getLogger(__name__)


async def scheduled(
    stop: asyncio.Event,
    *,
    workspaces: Sequence[proposals.Workspace],
    prometheus: str | None,
    tick: float = 5.0,
) -> None:
    """Run each workspace's optimizations when due, until `stop` is set."""
    if not workspaces:
        return
    client = triggers.Prometheus(prometheus) if prometheus else None
    last: dict[int, float] = {}
    while not stop.is_set():
        for number, ws in enumerate(workspaces):
            await _maybe_run(ws, client=client, last=last, number=number)
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
        result = await asyncio.to_thread(runner.run, ws, prometheus=client, trigger="schedule")
        log.info(
            "optimization run of %s: %d proposals, %d reverts",
            ws.source.location,
            len(result.proposals),
            len(result.reverts),
        )
    except (ReconcilerError, OSError) as exc:
        log.warning("optimization run of %s failed: %s", ws.source.location, exc)
