"""One run being executed: the DAG walked under its limits, every state change recorded.

`Execution.run` launches ready steps up to the run's `maxParallelism` (command and http
steps also take a slot of the engine-wide semaphore), records each attempt `running`
before it starts and its outcome after, retries by the step's policy, skips what a failed
dependency or a branch not taken rules out, and bounds the whole run by its timeout.
When the run failed, the `onFailure` steps run (for a runbook: the rollbacks of the steps
that ran, newest first). Pause stops launching steps; cancel stops everything, killing
running commands. An execution built from a stored run (`prior`) continues it: finished
steps are kept, interrupted ones are re-run when safe and otherwise put to a human.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from reconciler import runstate
from reconciler.children import NO_LEDGER, ChildLedger
from reconciler.clock import Clock
from reconciler.errors import StalledError
from reconciler.events import EventType
from reconciler.run import asks, dag, plans, recovery, retry
from reconciler.run.recorder import Recorder
from reconciler.run.steps import base
from reconciler.runstate import RunRecord, RunStatus, StepRecord, StepStatus
from reconciler.specs import flows, types

_WORK_KINDS = frozenset({flows.StepKind.COMMAND, flows.StepKind.HTTP})
CANCELLED = "cancelled"
GATE_MESSAGE = (
    "was running when the engine stopped and is not idempotent: "
    "approve to run it again, reject to fail it"
)


@dataclass(frozen=True, kw_only=True)
class Parts:
    """What every execution of one engine shares."""

    recorder: Recorder
    clock: Clock
    sleep: base.Sleep
    rand: Callable[[], float]
    services: base.Services
    limits: base.Limits
    kinds: Mapping[flows.StepKind, base.Kind]
    run_child: Callable[..., Awaitable[RunRecord]]
    record_event: Callable[..., Awaitable[None]]
    progress: Callable[[str], None] | None = None  # one line per step event, for a terminal
    children: ChildLedger = NO_LEDGER  # the child process groups steps start


class Execution:
    def __init__(
        self,
        *,
        parts: Parts,
        header: RunRecord,
        plan: plans.ExecutionPlan,
        prior: recovery.Prior | None = None,
        paused: bool = False,
    ) -> None:
        self.parts, self.plan = parts, plan
        self.header = replace(header, steps=())
        self.state = prior or recovery.Prior()
        self.paused = paused
        self.abort: str | None = None  # why running steps are being stopped, if they are
        self.scope: dict[str, Any] = {
            "vars": plan.scope_variables,
            "run": {"id": header.id, "name": header.name},
            "steps": {name: _view(rec) for name, rec in self.state.records.items()},
        }
        self.approvals: dict[str, asyncio.Future[base.Approval]] = {}
        self.asks: dict[str, base.Ask] = {}  # questions steps put without an approval spec
        self.waiting: set[str] = set()
        self._wake = asyncio.Event()
        order = dag.build(plan.steps).order
        self.labels = {n: f"[{i}/{len(order)}] {n}" for i, n in enumerate(order, start=1)}
        self._announced: set[str] = set()
        self._requested: set[str] = set()  # steps whose approval request was recorded

    @property
    def states(self) -> dict[str, StepStatus]:
        return self.state.states

    # control

    @property
    def cancel_requested(self) -> bool:
        return self.abort == CANCELLED

    def pause(self) -> None:
        self.paused = True
        self._wake.set()

    def unpause(self) -> None:
        self.paused = False
        self._wake.set()

    def answer(self, step: str, approval: base.Approval) -> None:
        future = self.approvals.get(step)
        if future is None or future.done():
            future = self.approvals[step] = asyncio.get_running_loop().create_future()
        future.set_result(approval)

    # the run

    async def run(self) -> RunRecord:
        error: str | None = None
        try:
            await self._set_status(RunStatus.RUNNING)
            timeout = self.plan.timeout
            deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
            try:
                await self._walk(
                    dag.build(self.plan.steps), self.plan.max_parallelism, deadline=deadline
                )
            except _RunTimedOut:
                error = f"timed out after {self.plan.spec.spec.timeout}"
            error = error or self._first_failure(self.plan.steps)
            if error is not None:
                await self._handle_failure(error)
        except asyncio.CancelledError:
            if not self.cancel_requested:
                raise  # the engine is stopping: leave the run to be resumed
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            return await self._finish(RunStatus.CANCELLED, CANCELLED)
        return await self._finish(RunStatus.FAILED if error else RunStatus.SUCCEEDED, error)

    async def _handle_failure(self, error: str) -> None:
        self.scope["failure"] = {"error": error}
        handlers = self.plan.on_failure or recovery.rollbacks(self.plan, self.state)
        for step in handlers:
            undone = step.name.removesuffix(recovery.ROLLBACK_SUFFIX)
            rollback = undone != step.name and not self.plan.on_failure
            self.labels[step.name] = f"rollback {undone}" if rollback else f"onFailure {step.name}"
        if handlers:
            await self._walk(dag.build(handlers), self.plan.max_parallelism)

    def _first_failure(self, steps: list[flows.Step]) -> str | None:
        for step in steps:
            if self.states.get(step.name) in dag.BAD:
                record = self.state.records.get(step.name)
                return f"step {step.name} failed: {record.error if record else ''}"
        return None

    async def _finish(self, status: RunStatus, error: str | None) -> RunRecord:
        self.header = runstate.finished(
            self.header, status=status, at=self.parts.clock.now(), error=error
        )
        await self.parts.recorder.write(self.header, wait=True)
        return replace(self.header, steps=tuple(self.state.history))

    # walking the graph

    async def _walk(self, graph: dag.Dag, limit: int, *, deadline: float | None = None) -> None:
        blocking = {
            n: sum(1 for d in graph.deps(n) if self.states.get(d) not in dag.DONE)
            for n in graph.order
            if self.states.get(n) not in dag.DONE
        }
        ready = deque(n for n in graph.order if blocking.get(n) == 0)
        running: dict[asyncio.Task[None], str] = {}
        try:
            while True:
                await self._launch(graph, ready, running, limit=limit, blocking=blocking)
                if not running and not (ready and self.paused):
                    return
                await self._await_any(graph, ready, running, blocking, deadline=deadline)
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    async def _launch(
        self,
        graph: dag.Dag,
        ready: deque[str],
        running: dict[asyncio.Task[None], str],
        *,
        limit: int,
        blocking: dict[str, int],
    ) -> None:
        while ready and len(running) < limit and not self.paused:
            name = ready.popleft()
            if name in self.state.skip or graph.verdict(name, self.states):
                await self._settle(name, StepStatus.SKIPPED)
                _release(graph, name, ready, blocking)
                continue
            task = asyncio.create_task(self._step(graph.steps[name]), name=f"step {name}")
            running[task] = name
        if self.paused and ready and not running:
            await self._set_status(RunStatus.WAITING, error="paused")

    async def _await_any(
        self,
        graph: dag.Dag,
        ready: deque[str],
        running: dict[asyncio.Task[None], str],
        blocking: dict[str, int],
        *,
        deadline: float | None,
    ) -> None:
        self._wake.clear()
        wake = asyncio.create_task(self._wake.wait())
        waiting: set[asyncio.Future[Any]] = {*running, wake}
        now = asyncio.get_running_loop().time()
        try:
            done, _ = await asyncio.wait(
                waiting,
                return_when=asyncio.FIRST_COMPLETED,
                timeout=None if deadline is None else deadline - now,
            )
        finally:
            wake.cancel()
        if deadline is not None and not done and asyncio.get_running_loop().time() >= deadline:
            self.abort = f"run timed out after {self.plan.spec.spec.timeout}"
            raise _RunTimedOut
        for task in list(running):
            if task in done:
                name = running.pop(task)
                task.result()
                _release(graph, name, ready, blocking)
        if not self.paused and self.header.error == "paused":
            await self._set_status(RunStatus.RUNNING)

    # one step

    async def _step(self, step: flows.Step) -> None:
        policy = retry.RetryPolicy.of(step.retry)
        attempt = self.state.next_attempt(step.name)
        if step.name in self.state.gated and not await self._gate(step, attempt):
            return
        while True:
            failed = await self._attempt(step, attempt)
            if failed is None:
                return
            failure, error = failed
            if not policy.should_retry(attempt=attempt, failure=failure):
                self.states[step.name] = StepStatus.FAILED
                self._say(step.name, f"failed: {error}")
                return
            delay = policy.delay(attempt=attempt, rand=self.parts.rand)
            self._say(
                step.name,
                f"attempt {attempt}/{policy.max_attempts} failed: {error}; retry in {delay:.2f}s",
            )
            await self.parts.sleep(delay)
            attempt += 1

    async def _attempt(self, step: flows.Step, attempt: int) -> tuple[retry.Failure, str] | None:
        """None when the attempt succeeded (or was cancelled), else why it failed."""
        self.states[step.name] = StepStatus.RUNNING
        began = self.parts.clock.monotonic()
        async with self._slot(step):
            record = StepRecord(
                name=step.name,
                status=StepStatus.RUNNING,
                attempt=attempt,
                started_at=self.parts.clock.now(),
            )
            # Durable before it starts, so every execution has its attempt on record even
            # when a kill cuts it off (a rerunnable step is then simply run again).
            await self._record(record, wait=True)
            outputs, error, failure = await self._outcome(step, attempt)
        status = StepStatus.FAILED if failure else StepStatus.SUCCEEDED
        if self.abort is not None and error == self.abort:
            status = StepStatus.CANCELLED
        # Durable before dependents start where running it twice could do harm: else a
        # crash right after would put a step that finished to a human again.
        await self._record(
            replace(
                record,
                status=status,
                output=outputs,
                error=error,
                finished_at=self.parts.clock.now(),
            ),
            wait=not recovery.rerunnable(step),
        )
        if failure is None or status is StepStatus.CANCELLED:
            self.states[step.name] = status
            took = self.parts.clock.monotonic() - began
            self._say(step.name, f"{status.value} in {took:.2f}s")
            return None
        return failure, error or ""

    async def _outcome(
        self, step: flows.Step, attempt: int
    ) -> tuple[dict[str, Any], str | None, retry.Failure | None]:
        timeout = types.seconds(step.timeout) if step.timeout else None
        ctx = base.StepContext(
            run_id=self.header.id,
            attempt=attempt,
            scope=self.scope,
            services=self.parts.services,
            limits=self.parts.limits,
            clock=self.parts.clock,
            sleep=self.parts.sleep,
            host=self,
            since=self._first_start(step.name),
            announce=lambda line: self._announce(step.name, line),
            children=self.parts.children,
        )
        try:
            async with asyncio.timeout(timeout):
                result = await self.parts.kinds[step.kind].run(step, ctx)
        except TimeoutError:
            return {}, f"timed out after {step.timeout}", retry.Failure(timed_out=True)
        except base.StepFailed as exc:
            return exc.outputs, str(exc), retry.Failure(exit_code=exc.exit_code)
        except StalledError as exc:
            return {}, str(exc), retry.Failure(retryable=False)
        except asyncio.CancelledError:
            if self.abort is not None:
                return {}, self.abort, retry.Failure(retryable=False)
            raise
        outputs = dict(result.outputs)
        if result.skip:
            outputs["skipped"] = list(result.skip)
            self.state.skip.update(result.skip)
        return outputs, None, None

    def _slot(self, step: flows.Step) -> contextlib.AbstractAsyncContextManager[Any]:
        slots = self.parts.limits.global_slots
        if slots is None or step.kind not in _WORK_KINDS:
            return contextlib.nullcontext()
        return slots

    async def _gate(self, step: flows.Step, attempt: int) -> bool:
        """Ask a human whether an interrupted, non-idempotent step may run again."""
        record = StepRecord(
            name=step.name,
            status=StepStatus.WAITING,
            attempt=attempt,
            started_at=self.parts.clock.now(),
            error=GATE_MESSAGE,
            output={recovery.GATE: True},
        )
        await self._record(record)  # committed with the run's status by `await_approval`
        answer = await self.await_approval(step.name, timeout=None)
        assert answer is not None
        if answer.approved:
            return True
        why = f": {answer.comment}" if answer.comment else ""
        await self._settle(
            step.name,
            StepStatus.FAILED,
            attempt=attempt,
            error=f"rejected by {answer.approver}{why}",
        )
        return False

    async def _settle(
        self, name: str, status: StepStatus, *, attempt: int | None = None, error: str | None = None
    ) -> None:
        self.states[name] = status
        self._say(name, status.value + (f": {error}" if error else ""))
        now = self.parts.clock.now()
        await self._record(
            StepRecord(
                name=name,
                status=status,
                attempt=attempt or self.state.next_attempt(name),
                started_at=now,
                finished_at=now,
                error=error,
            )
        )

    def _announce(self, name: str, line: str) -> None:
        """A step's own progress line, said once per step (not again for each retry)."""
        if name not in self._announced:
            self._announced.add(name)
            self._say(name, line)

    def _say(self, name: str, text: str) -> None:
        if self.parts.progress is not None:
            self.parts.progress(f"{self.labels.get(name, name)}: {text}")

    def _first_start(self, name: str) -> datetime | None:
        """When the step first started in this run, before any retry or restart."""
        starts = [r.started_at for (n, _), r in self.state.attempts.items() if n == name]
        return min((s for s in starts if s is not None), default=None)

    async def _record(self, record: StepRecord, *, wait: bool = False) -> None:
        self.state.add(record)
        self.scope["steps"][record.name] = _view(record)
        await self.parts.recorder.write(self.header, record, wait=wait)

    async def _set_status(
        self, status: RunStatus, *, error: str | None = None, wait: bool = False
    ) -> None:
        if (status, error) == (self.header.status, self.header.error) and not wait:
            return
        self.header = replace(self.header, status=status, error=error)
        await self.parts.recorder.write(self.header, wait=wait)

    # base.Host

    async def await_approval(
        self, step: str, *, timeout: float | None, ask: base.Ask | None = None
    ) -> base.Approval | None:
        if ask is not None:
            self.asks[step] = ask
        loop = asyncio.get_running_loop()
        future = self.approvals.setdefault(step, loop.create_future())
        question = ask or asks.of_spec(self.plan, step)
        asking = asks.asking(self.state.history, step, question)
        if asking is not None:
            await self.parts.recorder.write(self.header, asking)
        # The waiting attempt and the run's status committed together, before the engine
        # says it waits: every replica lists it from the store, and finds the run waiting.
        await self._set_status(
            RunStatus.WAITING, error=f"waiting for approval of {step}", wait=True
        )
        self.waiting.add(step)
        await self._request_approval(step, question)
        try:
            if timeout is None:
                return await asyncio.shield(future)
            sleeper = asyncio.ensure_future(self.parts.sleep(timeout))
            racing: set[asyncio.Future[Any]] = {future, sleeper}
            try:
                await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
            return future.result() if future.done() else None
        finally:
            self.waiting.discard(step)
            if future.done():
                self.approvals.pop(step, None)
                self.asks.pop(step, None)
            if asking is not None:  # the attempt runs on (its end is recorded after this)
                await self.parts.recorder.write(
                    self.header, self.state.attempts[asking.name, asking.attempt]
                )
            if not self.waiting:
                await self._set_status(RunStatus.RUNNING)

    async def _request_approval(self, step: str, ask: base.Ask) -> None:
        """Record `ApprovalRequested` once per step and execution (notifications chase it;
        a restarted daemon asks again)."""
        if step in self._requested:
            return
        self._requested.add(step)
        approvers, prompt = list(ask.approvers), ask.prompt
        await self.record_event(
            type=EventType.APPROVAL_REQUESTED.value,
            message=f"approval of {step} is waiting",
            data={"run": self.header.id, "step": step, "approvers": approvers, "prompt": prompt},
        )

    async def record_event(self, *, type: str, message: str, data: dict[str, Any]) -> None:
        await self.parts.record_event(run_id=self.header.id, type=type, message=message, data=data)

    async def run_child(self, **kwargs: Any) -> RunRecord:
        return await self.parts.run_child(parent=self, **kwargs)


class _RunTimedOut(Exception):
    """The run's own timeout passed; running steps are being stopped."""


def _release(graph: dag.Dag, name: str, ready: deque[str], blocking: dict[str, int]) -> None:
    for dependent in graph.dependents.get(name, ()):
        if dependent in blocking:
            blocking[dependent] -= 1
            if blocking[dependent] == 0:
                ready.append(dependent)


def _view(record: StepRecord) -> dict[str, Any]:
    return {
        "status": record.status.value,
        "outputs": record.output,
        "error": record.error,
        "attempt": record.attempt,
    }
