"""The workflow engine: the API the daemon uses to start, steer and resume runs.

`Engine` owns the live executions of one process. `start` checks a Workflow (or
`start_runbook` a Runbook), records the run with its plan and returns its id; the run goes
on as an asyncio task. `wait`, `cancel`, `pause`, `resume` and `approve` steer a run by
id; `resume_all` picks up, at start-up, every run a previous process left unfinished
(killed or stopped), per the rules of `run.recovery`; `prepare` builds a run without
starting it, for a caller that queues it, and `adopt` starts a recorded run by id (queued,
or left unfinished by another process). Child runs (subflow, runbook steps)
get ids derived from their parent step, so a resumed parent re-attaches to its child.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable, Container, Mapping
from dataclasses import replace
from typing import Any

from reconciler import runstate
from reconciler.children import NO_LEDGER, ChildLedger
from reconciler.clock import Clock
from reconciler.errors import ReconcilerError
from reconciler.events import EventType
from reconciler.run import plans, recovery, steps, workflow
from reconciler.run.recorder import Recorder
from reconciler.run.steps import approval, base
from reconciler.runstate import FINISHED, RunKind, RunRecord, RunStatus, StepStatus
from reconciler.specs import flows
from reconciler.store.interfaces import EventRecord, RunNotFound, Store

UNFINISHED = (RunStatus.PENDING, RunStatus.RUNNING, RunStatus.WAITING)


class ApprovalRefused(ReconcilerError, PermissionError):
    """The approver may not answer this step, or the step is not waiting for an answer."""


class Engine:
    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        services: base.Services | None = None,
        limits: base.Limits | None = None,
        sleep: base.Sleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        progress: Callable[[str], None] | None = None,
        on_event: Callable[[EventRecord], None] | None = None,
        children: ChildLedger = NO_LEDGER,
    ) -> None:
        """`on_event` is called (on a worker thread) with each event the engine records,
        after the store holds it: approvals asked, escalated and answered."""
        self.store, self.clock, self.new_id = store, clock, new_id
        self.on_event = on_event
        self.recorder = Recorder(store)
        self.parts = workflow.Parts(
            recorder=self.recorder,
            clock=clock,
            sleep=sleep,
            rand=rand,
            services=services or base.Services(),
            limits=limits or base.Limits(),
            kinds=steps.kinds(),
            run_child=self._run_child,
            record_event=self._record_event,
            progress=progress,
            children=children,
        )
        self._live: dict[str, workflow.Execution] = {}
        self._tasks: dict[str, asyncio.Task[RunRecord]] = {}

    # starting

    async def start(
        self,
        workflow_spec: flows.Workflow,
        *,
        trigger: str = "manual",
        variables: Mapping[str, Any] | None = None,
        revision: str | None = None,
        kind: RunKind = RunKind.WORKFLOW,
    ) -> str:
        """Check and record a run of `workflow_spec`, start it, return its id; `kind`
        says why it runs (a remediation is a workflow run started for a violation)."""
        plan = replace(plans.of_workflow(workflow_spec, variables=variables or {}), kind=kind)
        return await self._begin(plan, trigger=trigger, revision=revision, run_id=None)

    async def start_runbook(
        self,
        runbook: flows.Runbook,
        *,
        trigger: str = "manual",
        variables: Mapping[str, Any] | None = None,
        revision: str | None = None,
    ) -> str:
        plan = plans.of_runbook(runbook, variables=variables or {})
        return await self._begin(plan, trigger=trigger, revision=revision, run_id=None)

    async def _begin(
        self, plan: plans.ExecutionPlan, *, trigger: str, revision: str | None, run_id: str | None
    ) -> str:
        plan = await self._vetted(plan)
        run = self._recorded(plan, trigger=trigger, revision=revision, run_id=run_id)
        await self.recorder.create(run)
        self._launch(workflow.Execution(parts=self.parts, header=replace(run, steps=()), plan=plan))
        return run.id

    async def prepare(
        self,
        workflow_spec: flows.Workflow,
        *,
        trigger: str = "manual",
        variables: Mapping[str, Any] | None = None,
        revision: str | None = None,
        kind: RunKind = RunKind.WORKFLOW,
    ) -> RunRecord:
        """What `start` records, vetted, without recording or starting it: the pending
        run with its plan, for a caller that queues it (`adopt` starts it)."""
        plan = replace(plans.of_workflow(workflow_spec, variables=variables or {}), kind=kind)
        plan = await self._vetted(plan)
        return self._recorded(plan, trigger=trigger, revision=revision, run_id=None)

    def _recorded(
        self, plan: plans.ExecutionPlan, *, trigger: str, revision: str | None, run_id: str | None
    ) -> RunRecord:
        """The run as it is first recorded: pending, its plan in the meta record."""
        header = runstate.started(
            id=run_id or self.new_id(),
            kind=plan.kind,
            name=plan.name,
            trigger=trigger,
            revision=revision,
            at=self.clock.now(),
        )
        return replace(header, steps=(plans.meta_record(plan),))

    async def _vetted(self, plan: plans.ExecutionPlan) -> plans.ExecutionPlan:
        """`plan` once the safety policy has seen its commands: refused when it flags any
        the spec does not allow, else gated by an approval unless a human already confirmed."""
        vetting = await asyncio.to_thread(self.parts.services.vet, plan.spec, plan.variables)
        if not vetting.findings or vetting.confirmed:
            return plan
        found = "; ".join(vetting.findings)
        what = f"{plan.kind.value} {plan.name}"
        if not vetting.allowed:
            raise base.UnsafeCommands(f"{what}: the safety policy refuses its commands: {found}")
        message = (
            f"{what} runs commands the safety policy flags ({found});"
            f" allowed because: {vetting.reason}. Run it?"
        )
        return plans.with_approval(plan, message=message)

    def _launch(self, execution: workflow.Execution) -> None:
        run_id = execution.header.id
        self._live[run_id] = execution
        task = asyncio.create_task(execution.run(), name=f"run {run_id}")
        self._tasks[run_id] = task
        task.add_done_callback(lambda _: self._live.pop(run_id, None))

    # steering

    async def wait(self, run_id: str) -> RunRecord:
        """The run once it has finished (or, for a run not live here, as stored)."""
        task = self._tasks.get(run_id)
        if task is None:
            await self.recorder.flush()
            return await self.get(run_id)
        run = await asyncio.shield(task)
        self._tasks.pop(run_id, None)
        return run

    async def get(self, run_id: str) -> RunRecord:
        run = await asyncio.to_thread(self.store.get_run, run_id)
        if run is None:
            raise RunNotFound(run_id)
        return run

    async def cancel(self, run_id: str) -> None:
        execution = self._live.get(run_id)
        if execution is None:
            run = await self.get(run_id)
            if run.status not in FINISHED:
                await self.recorder.write(
                    runstate.finished(
                        run,
                        status=RunStatus.CANCELLED,
                        at=self.clock.now(),
                        error=run.error,
                        steps=(),
                    ),
                    wait=True,
                )
            return
        execution.abort = workflow.CANCELLED
        self._tasks[run_id].cancel()
        await asyncio.gather(self._tasks[run_id], return_exceptions=True)

    async def pause(self, run_id: str) -> None:
        """Launch no further steps of the run; running steps finish."""
        execution = self._live.get(run_id)
        if execution is None:
            raise RunNotFound(run_id)
        execution.pause()
        await self.recorder.write(
            execution.header, plans.meta_record(execution.plan, paused=True), wait=True
        )

    async def resume(self, run_id: str) -> None:
        """Unpause a live run, or continue a stored unfinished one (after a restart)."""
        execution = self._live.get(run_id)
        if execution is None:
            execution = await self._restore(run_id)
            if execution is None:
                return
            self._launch(execution)
        if execution.paused:
            execution.unpause()
            await self.recorder.write(
                execution.header, plans.meta_record(execution.plan), wait=True
            )

    async def resume_all(self, *, skip: Container[str] = ()) -> list[str]:
        """Continue every unfinished top-level run in the store but those in `skip`;
        returns their ids."""
        resumed = []
        for status in UNFINISHED:
            found = await asyncio.to_thread(self.store.list_runs, status=status, limit=100_000)
            for run in found:
                if run.id in skip or _meta(run).get("parent"):
                    continue
                if await self._take_over(run):
                    resumed.append(run.id)
        return resumed

    async def adopt(self, run_id: str) -> bool:
        """Start a recorded run that no process runs (queued, or left by a dead one), from
        its step records, as `resume_all` does; False when it is live here or finished."""
        run = await asyncio.to_thread(self.store.get_run, run_id)
        return run is not None and await self._take_over(run)

    async def _take_over(self, run: RunRecord) -> bool:
        if run.id in self._live or run.status in FINISHED:
            return False
        run = await asyncio.to_thread(self._close_interrupted, run)
        execution = self._execution_of(run, keep_paused=True)
        if execution is None:
            return False
        self._launch(execution)
        return True

    def _close_interrupted(self, run: RunRecord) -> RunRecord:
        """Mark the attempts a dead daemon left `running` as `interrupted`, durably."""
        closed = {(s.name, s.attempt): s for s in recovery.interrupted(run, at=self.clock.now())}
        for step in closed.values():
            self.recorder.log.step(run.id, step)
        return replace(run, steps=tuple(closed.get((s.name, s.attempt), s) for s in run.steps))

    async def _restore(self, run_id: str) -> workflow.Execution | None:
        run = await self.get(run_id)
        return None if run.status in FINISHED else self._execution_of(run, keep_paused=False)

    def _execution_of(self, run: RunRecord, *, keep_paused: bool) -> workflow.Execution | None:
        meta = next((s for s in run.steps if s.name == plans.META), None)
        if meta is None:
            return None
        plan, paused = plans.from_meta(meta)
        prior = recovery.from_run(run, plan)
        return workflow.Execution(
            parts=self.parts,
            header=replace(run, steps=()),
            plan=plan,
            prior=prior,
            paused=paused and keep_paused,
        )

    async def approve(
        self,
        run_id: str,
        step: str,
        *,
        approver: str,
        approved: bool,
        comment: str = "",
        role: str | None = None,
    ) -> None:
        """Answer an approval step, or the question asked about an interrupted step."""
        execution = self._live.get(run_id)
        if execution is None:
            raise ApprovalRefused(f"run {run_id} is not running here")
        spec = next(
            (s for s in [*execution.plan.steps, *execution.plan.on_failure] if s.name == step), None
        )
        _check_approver(execution, spec, step=step, approver=approver, role=role)
        answer = base.Approval(
            approved=approved, approver=approver, comment=comment, at=self.clock.now().isoformat()
        )
        # Recorded (and audited) before the run sees it: no answer acts unrecorded.
        await self._record_event(
            run_id=run_id,
            type=EventType.APPROVAL_ANSWERED.value,
            message=f"{step} {'approved' if approved else 'rejected'} by {approver}",
            data={
                "run": run_id,
                "step": step,
                "approver": approver,
                "actor": approver,
                "role": role,
                "approved": approved,
                "comment": comment,
            },
        )
        execution.answer(step, answer)

    def waiting(self, run_id: str) -> list[str]:
        """Steps of a run live here waiting for an answer right now."""
        execution = self._live.get(run_id)
        return sorted(execution.waiting) if execution else []

    def live(self) -> list[str]:
        """The ids of the runs this engine is running now."""
        return sorted(self._live)

    def waiting_count(self) -> int:
        """Steps of the runs live in this engine waiting for an answer right now (the
        store lists those of every replica's runs: `run.asks`)."""
        return sum(len(e.waiting) for e in list(self._live.values()))

    async def close(self) -> None:
        """Stop every live run, leaving them to `resume_all`, and flush the store writes."""
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()
        await self.recorder.close()

    # services for executions

    async def _run_child(
        self,
        *,
        parent: workflow.Execution,
        kind: RunKind,
        spec: flows.Workflow | flows.Runbook,
        variables: Mapping[str, Any],
        child_id: str,
    ) -> RunRecord:
        existing = await asyncio.to_thread(self.store.get_run, child_id)
        if existing is None:
            builder = plans.of_workflow if kind is RunKind.WORKFLOW else plans.of_runbook
            plan = builder(spec, variables=variables, parent=parent.header.id)  # type: ignore[arg-type]
            await self._begin(
                plan, trigger=f"run:{parent.header.id}", revision=None, run_id=child_id
            )
        elif existing.status not in FINISHED and child_id not in self._live:
            await self.resume(child_id)
        try:
            return await self.wait(child_id)
        except asyncio.CancelledError:
            if parent.cancel_requested and child_id in self._live:
                await self.cancel(child_id)
            raise

    async def _record_event(
        self, *, run_id: str, type: str, message: str, data: dict[str, Any]
    ) -> None:
        event = EventRecord(
            at=self.clock.now(), type=type, object_key=f"run/{run_id}", message=message, data=data
        )
        await asyncio.to_thread(self._append_event, event)

    def _append_event(self, event: EventRecord) -> None:
        self.store.append_event(event)
        if self.on_event is not None:
            self.on_event(event)


def _meta(run: RunRecord) -> dict[str, Any]:
    meta = next((s for s in run.steps if s.name == plans.META), None)
    return meta.output if meta else {}


def _check_approver(
    execution: workflow.Execution,
    spec: flows.Step | None,
    *,
    step: str,
    approver: str,
    role: str | None,
) -> None:
    gated = step in execution.state.gated
    asked = execution.asks.get(step)
    if spec is None or not (gated or asked or spec.kind is flows.StepKind.APPROVAL):
        raise ApprovalRefused(f"step {step} of run {execution.header.id} takes no approval")
    if execution.states.get(step) in (
        StepStatus.SUCCEEDED,
        StepStatus.FAILED,
        StepStatus.SKIPPED,
        StepStatus.CANCELLED,
    ):
        raise ApprovalRefused(f"step {step} of run {execution.header.id} has finished")
    allowed = list(asked.approvers) if asked else spec.approval.approvers if spec.approval else []
    if not approval.may_approve(allowed, name=approver, role=role):
        raise ApprovalRefused(
            f"{approver} may not approve step {step}; approvers: {', '.join(allowed)}"
        )
