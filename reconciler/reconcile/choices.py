"""Decision steps with `options` in workflows: scored by the daemon, settled by the run.

A workflow's `decision` step with `options` asks `decide`: the options are scored by the
rules of the step's `policy` (default `data.reconciler.decisions.workflow`) and by how runs
went after each option in the same context (type `workflow`, subject `<workflow>/<step>`),
the decision is stored, and its level says whether a human approves the choice first.
When the run finishes, `settle` records the outcome — the run succeeded or not — on every
decision the run took, so the next run's scores learn from it.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from reconciler.clock import Clock
from reconciler.decide import context as windows
from reconciler.decide import decider, ledger, levels
from reconciler.decide.records import Context, DecisionRecord, Option, Outcome
from reconciler.policy import rego
from reconciler.reconcile.runner import SourceRunner
from reconciler.reconcile.workflows import Catalog
from reconciler.run.steps import base
from reconciler.runstate import RunRecord, RunStatus
from reconciler.specs import flows
from reconciler.specs.decisions import DecisionSettings
from reconciler.store.interfaces import Store

TYPE = "workflow"
Scorer = Callable[[rego.RegoEngine | None, DecisionSettings], DecisionRecord]


class Choices:
    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        workflow: Callable[[str], flows.Workflow | None],
        on_worker: Callable[
            [str, Scorer], Awaitable[tuple[DecisionRecord, DecisionSettings] | None]
        ],
    ) -> None:
        self.store, self.clock, self.workflow, self.on_worker = store, clock, workflow, on_worker

    async def decide(self, request: base.DecisionRequest) -> base.DecisionVerdict:
        spec = self.workflow(request.workflow)
        step = next((s for s in spec.spec.steps if s.name == request.step), None) if spec else None
        approval = step.decision.approval if step and step.decision else "confidence"
        now = self.clock.now()

        def score(engine: rego.RegoEngine | None, settings: DecisionSettings) -> DecisionRecord:
            context = Context(
                type=TYPE,
                subject=f"{request.workflow}/{request.step}",
                kind=request.workflow,
                window=windows.window(now, settings),
                facts={"run": request.run_id, **request.facts},
            )
            return decider.decide(
                context,
                [Option("action", name) for name in request.options],
                settings=settings,
                history=ledger.StoreHistory(self.store),
                engine=engine,
                approval=approval,
                at=now.isoformat(),
                package=request.policy,
            )

        scored = await self.on_worker(request.workflow, score)
        if scored is None:
            raise base.StepFailed(f"no source defines workflow {request.workflow}")
        record = replace(scored[0], run_id=request.run_id)
        chosen = record.choice.chosen
        assert chosen is not None
        await asyncio.to_thread(self.store.put_daemon_decision, ledger.to_entry(record))
        ask = None
        if levels.needs_approval(record.level):
            role = levels.APPROVER_ROLE[record.level]
            ask = base.Ask(
                prompt=f"{record.explanation.splitlines()[0]} Take {chosen.target}?",
                approvers=(f"role:{role}",),
            )
        return base.DecisionVerdict(
            decision=record.id,
            chosen=chosen.target,
            confidence=record.choice.confidence,
            level=record.level.value,
            explanation=record.explanation,
            ask=ask,
        )

    async def settle(self, run: RunRecord) -> None:
        """The finished run's outcome on each decision it took that is still pending."""
        found = await asyncio.to_thread(
            self.store.daemon_decisions, type=TYPE, run_id=run.id, outcome=Outcome.PENDING.value
        )
        succeeded = run.status is RunStatus.SUCCEEDED
        for entry in found:
            answer = next(
                (s.output for s in reversed(run.steps) if s.output.get("decision") == entry.id),
                {},
            )
            outcome = Outcome.SUCCEEDED if succeeded else Outcome.FAILED
            if answer.get("approved") is False:
                outcome = Outcome.REJECTED
            record = ledger.settled(
                ledger.from_entry(entry),
                outcome,
                at=self.clock.now(),
                approver=answer.get("approver"),
                note="the run succeeded" if succeeded else f"the run {run.status.value}",
            )
            await asyncio.to_thread(self.store.put_daemon_decision, ledger.to_entry(record))


class Workers:
    """Where a decision is scored: on the worker thread of the source whose revision
    defines its binding or workflow, which owns that revision's policies."""

    def __init__(self, runners: Mapping[str, SourceRunner], catalog: Catalog) -> None:
        self.runners, self.catalog = runners, catalog

    async def for_binding(
        self, binding: str, score: Scorer
    ) -> tuple[DecisionRecord, DecisionSettings] | None:
        """Score a remediation on the worker of the source that defines `binding`."""
        runner = self._defining(binding)
        return None if runner is None else await _score_in(runner, score)

    def settings_for_binding(self, binding: str) -> DecisionSettings | None:
        """The decision settings of the revision defining `binding` (immutable: any thread)."""
        runner = self._defining(binding)
        loaded = runner.loader.last_good if runner else None
        return loaded.snapshot.settings.spec.decisions if loaded else None

    def _defining(self, binding: str) -> SourceRunner | None:
        """The runner whose last-good revision defines `binding`."""
        for runner in self.runners.values():
            loaded = runner.loader.last_good
            if loaded is not None and any(
                m.metadata.name == binding for _, m in loaded.snapshot.bindings
            ):
                return runner
        return None

    async def for_workflow(
        self, name: str, score: Scorer
    ) -> tuple[DecisionRecord, DecisionSettings] | None:
        """Score a workflow's decision on the worker of the source that defines it."""
        entry = self.catalog.entry(name)
        if entry is None or entry.source not in self.runners:
            return None
        return await _score_in(self.runners[entry.source], score)


async def _score_in(
    runner: SourceRunner, score: Scorer
) -> tuple[DecisionRecord, DecisionSettings] | None:
    """Score on the runner's worker thread, which owns its revision's policies, with an
    engine over them (the repository's decision rules) and its decision settings."""
    loaded = runner.loader.last_good
    if loaded is None:
        return None
    settings = loaded.snapshot.settings.spec.decisions
    work = functools.partial(_score_with, score, loaded.bundle, settings)
    return await runner.on_worker(work), settings


def _score_with(score: Scorer, bundle: Any, settings: DecisionSettings) -> DecisionRecord:
    """On the worker owning `bundle`: an engine over its policies, then the scoring."""
    return score(bundle.new_engine(), settings)
