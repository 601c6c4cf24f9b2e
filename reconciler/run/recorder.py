"""Writes run and step records to the store from the event loop, committed in groups.

The store is synchronous (SQLite); calling it once per state change from the loop would
block it and cost a transaction each. Writes are queued in order and a single writer
drains the queue on a worker thread, folding everything queued for one run into one
update (one transaction carrying the newest run fields and every step attempt written
since), committed through the one `RunLog`. Order is kept: a write is committed no later
than anything queued after it. Callers await the writes that must be durable before they
go on (every attempt is recorded `running` before it starts); the rest are queued without
waiting.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace

from reconciler.run.runlog import RunLog, RunStore
from reconciler.runstate import RunKind, RunRecord, RunStatus, StepRecord

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class _Write:
    run: RunRecord  # the run fields; `steps` are the step records to upsert
    create: bool = False
    done: asyncio.Future[None] | None = None


@dataclass(kw_only=True)
class _Batch:
    header: RunRecord
    create: bool = False
    steps: dict[tuple[str, int], StepRecord] = field(default_factory=dict)


class Recorder:
    def __init__(self, store: RunStore) -> None:
        self.log = RunLog(store)
        self._queue: list[_Write] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self.failures: dict[str, BaseException] = {}

    async def create(self, run: RunRecord) -> None:
        await self._submit(_Write(run=run, create=True), wait=True)

    async def write(self, run: RunRecord, *steps: StepRecord, wait: bool = False) -> None:
        """Queue the run fields of `run` and `steps`; with `wait`, return once committed."""
        await self._submit(_Write(run=replace(run, steps=steps)), wait=wait)

    async def flush(self) -> None:
        """Return once everything queued so far is committed."""
        if self._queue or (self._writer is not None and not self._writer.done()):
            await self._submit(None, wait=True)

    async def close(self) -> None:
        await self.flush()
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
            self._writer = None

    async def _submit(self, write: _Write | None, *, wait: bool) -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future() if wait else None
        if write is not None:
            write.done = done
            self._queue.append(write)
        elif done is not None:
            self._queue.append(_Write(run=_BARRIER, done=done))
        self._wake.set()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain(), name="run-recorder")
        if done is not None:
            await done

    async def _drain(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._queue = self._queue, []
            if not batch:
                continue
            errors = await asyncio.to_thread(self._commit, batch)
            for write in batch:
                error = errors.get(write.run.id)
                if write.done is not None and not write.done.done():
                    if error is None:
                        write.done.set_result(None)
                    else:
                        write.done.set_exception(error)

    def _commit(self, batch: list[_Write]) -> dict[str, BaseException]:
        grouped: dict[str, _Batch] = {}
        for write in batch:
            if write.run is _BARRIER:
                continue
            group = grouped.setdefault(write.run.id, _Batch(header=write.run))
            group.header = write.run
            group.create = group.create or write.create
            for step in write.run.steps:
                group.steps[(step.name, step.attempt)] = step
        errors: dict[str, BaseException] = {}
        for run_id, group in grouped.items():
            run = replace(group.header, steps=tuple(group.steps.values()))
            try:
                (self.log.create if group.create else self.log.update)(run)
            except Exception as exc:  # reported to the waiters, remembered for the run
                log.exception("cannot record run %s", run_id)
                errors[run_id] = self.failures[run_id] = exc
        return errors


_BARRIER = RunRecord(
    id="", kind=RunKind.WORKFLOW, name="", trigger="", revision=None, status=RunStatus.PENDING
)
"""Queued by `flush`: commits nothing, is answered when everything before it is."""
