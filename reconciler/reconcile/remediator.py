"""Remediation as decisions: which option to run for a violation, and with whose approval.

After every reconcile pass the daemon looks at each current violation whose binding has a
`remediation`. One violation of one resource (its subject, `binding/resource`) has at most
one remediation open at a time, across passes and restarts (the open decision is in the
store), and none while it cools down after the last attempt (`cooldown`). No more than
`decisions.concurrency` remediations are open at once; the others wait for a later pass.

A remediation is a decision (`reconciler.decide`): the options are the binding's runbook or
workflow and its `options`, less those that already failed, were rejected or expired for
this violation; when every option has failed, the next attempt goes to a human whatever the
confidence. The decision's level says whether the run asks for an approval first and from
whom. When the run succeeds, a fresh pass re-observes and re-evaluates the resource: the
decision succeeded only if the violation is gone. Every outcome is written back to the
decision, so it becomes the history later decisions are scored on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from reconciler.clock import Clock
from reconciler.decide import context as windows
from reconciler.decide import decider, ledger, levels
from reconciler.decide.records import Context, DecisionRecord, Option, Outcome
from reconciler.events import Bus, EventType
from reconciler.policy import rego
from reconciler.policy.decisions import Decision
from reconciler.reconcile import remediation
from reconciler.runstate import RunRecord, RunStatus
from reconciler.specs import flows, models, types
from reconciler.specs.decisions import DecisionSettings
from reconciler.store.interfaces import Store

log = logging.getLogger(__name__)
TYPE = "remediation"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TRIED = frozenset({Outcome.FAILED, Outcome.REJECTED, Outcome.EXPIRED})

Scorer = Callable[[rego.RegoEngine | None, DecisionSettings], DecisionRecord]


@dataclass(frozen=True, kw_only=True)
class Hooks:
    """What the remediator asks of the daemon."""

    binding: Callable[[str], models.PolicyBinding | None]
    runbook: Callable[[str], flows.Runbook | None]
    # Run the scorer on the worker thread owning the binding's policies (None: no source).
    on_worker: Callable[[str, Scorer], Awaitable[tuple[DecisionRecord, DecisionSettings] | None]]
    start: Callable[..., Awaitable[str]]  # a remediation run: spec, trigger, variables, revision
    wait: Callable[[str], Awaitable[RunRecord]]
    resync: Callable[[], Awaitable[Any]]  # a fresh pass of every source, awaited
    settings: Callable[[str], DecisionSettings | None]  # of the source defining a binding
    signals: Callable[[Mapping[str, str]], Awaitable[dict[str, Any]]]  # PromQL -> values


class Remediator:
    def __init__(self, *, store: Store, clock: Clock, bus: Bus, hooks: Hooks) -> None:
        self.store, self.clock, self.bus, self.hooks = store, clock, bus, hooks
        self._open: set[str] = set()  # subjects being decided on or remediated here
        # Subjects known to cool down until then: a standing violation is not looked up in
        # the store after every pass while its cooldown runs.
        self._cool: dict[str, datetime] = {}
        self._running: set[str] = set()  # subjects with a remediation run open
        self._tasks: set[asyncio.Task[Any]] = set()

    def consider(self, violations: list[Decision]) -> None:
        """After a pass (on the loop): remediate what is violating and not yet handled."""
        scope: dict[str, set[str]] = {}
        for violation in violations:
            scope.setdefault(violation.resource.key, set()).add(violation.binding)
        for violation in violations:
            binding = self.hooks.binding(violation.binding)
            if binding is None or binding.spec.remediation is None:
                continue
            subject = subject_of(violation)
            if subject in self._open or self.clock.now() < self._cool.get(subject, _EPOCH):
                continue
            self._open.add(subject)
            violated = sorted(scope[violation.resource.key])
            how = binding.spec.remediation
            self._spawn(self._attempt(violation, how, subject, violated), subject)

    async def resume(self) -> None:
        """Follow the remediations a previous process left open (their runs resume)."""
        found = await asyncio.to_thread(
            self.store.daemon_decisions, type=TYPE, outcome=Outcome.PENDING.value, limit=1000
        )
        for entry in found:
            record = ledger.from_entry(entry)
            if record.run_id is None:
                await self._settle(record, Outcome.SKIPPED, note="interrupted before its run")
                continue
            self._open.add(record.context.subject)
            self._running.add(record.context.subject)
            self._spawn(self._follow(record), record.context.subject)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, work: Awaitable[None], subject: str) -> None:
        async def guarded() -> None:
            try:
                await work
            except Exception:
                log.exception("remediation of %s failed", subject)
            finally:
                self._open.discard(subject)
                self._running.discard(subject)

        task = asyncio.ensure_future(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # one attempt

    async def _attempt(
        self, violation: Decision, how: models.Remediation, subject: str, violated: list[str]
    ) -> None:
        past = await asyncio.to_thread(
            self.store.daemon_decisions, type=TYPE, subject=subject, limit=100
        )
        history = [ledger.from_entry(e) for e in past]
        now = self.clock.now()
        if any(r.outcome is Outcome.PENDING for r in history):
            return
        until = _cooling_until(history, how)
        if until is not None and now < until:
            self._cool[subject] = until
            return
        self._cool.pop(subject, None)
        every = [Option(kind, target) for kind, target in remediation.options(how)]
        tried = _tried(history)
        left = [o for o in every if o.name not in tried]
        approval = how.approval if left else "always-ask"
        facts = _facts(violation, attempt=len(tried) + 1, escalated=not left)
        facts["compliance"] = violated  # every binding the resource violates now
        facts["costs"] = remediation.costs(how)
        known = self.hooks.settings(violation.binding)
        if known is not None and known.signals:
            facts["signals"] = await self.hooks.signals(known.signals)

        def score(engine: rego.RegoEngine | None, settings: DecisionSettings) -> DecisionRecord:
            context = Context(
                type=TYPE,
                subject=subject,
                kind=violation.resource.kind,
                binding=violation.binding,
                policy=violation.policy,
                window=windows.window(now, settings),
                facts=facts,
            )
            history_ = ledger.StoreHistory(self.store)
            return decider.decide(
                context,
                left or every,
                settings=settings,
                history=history_,
                engine=engine,
                approval=approval,
                at=now.isoformat(),
            )

        scored = await self.hooks.on_worker(violation.binding, score)
        if scored is None:
            return
        record, settings = scored
        if len(self._running) >= settings.concurrency:
            log.info("remediation of %s waits: %d open", subject, len(self._running))
            return
        self._running.add(subject)
        await self._run(record, violation, how, settings)

    async def _run(
        self,
        record: DecisionRecord,
        violation: Decision,
        how: models.Remediation,
        settings: DecisionSettings,
    ) -> None:
        chosen = record.choice.chosen
        assert chosen is not None
        await self._put(record)
        self._publish(EventType.DECISION_TAKEN, record, record.explanation.splitlines()[0])
        approval = None
        if levels.needs_approval(record.level):
            approval = {
                "approvers": how.approvers or [f"role:{levels.APPROVER_ROLE[record.level]}"],
                "timeout": how.timeout or settings.approval_timeout,
                "onTimeout": how.on_timeout,
            }
        spec = remediation.workflow(
            violation, (chosen.kind, chosen.target), approval=approval, runbook=self.hooks.runbook
        )
        run_id = await self.hooks.start(
            spec,
            trigger=f"violation:{violation.binding}",
            variables={**remediation.variables(violation), "decision": record.id},
            revision=violation.revision,
        )
        record = replace(record, run_id=run_id)
        await self._put(record)
        await self._follow(record)

    async def _follow(self, record: DecisionRecord) -> None:
        assert record.run_id is not None
        run = await self.hooks.wait(record.run_id)
        answer = _answer(run)
        approver = answer.get("approver")
        if run.status is RunStatus.SUCCEEDED:
            await self.hooks.resync()
            outcome, note = await self._confirm(record)
            if answer.get("expired"):
                note = f"approved by default after the approval timeout; {note}"
        elif answer and not answer.get("approved"):
            expired = bool(answer.get("expired"))
            outcome = Outcome.EXPIRED if expired else Outcome.REJECTED
            note = "nobody answered in time; default: reject" if expired else "a human said no"
        else:
            outcome, note = Outcome.FAILED, f"the run {run.status.value}: {run.error or ''}"
        await self._settle(record, outcome, note=note.strip(": "), approver=approver)

    async def _confirm(self, record: DecisionRecord) -> tuple[Outcome, str]:
        """Re-evaluated after a fresh pass: is the violation gone?"""
        key = str(record.context.facts.get("resource", ""))
        found = await asyncio.to_thread(self.store.violations, key=key)
        if any(d.binding == record.context.binding for d in found):
            return Outcome.FAILED, "the run succeeded but the violation remains"
        return Outcome.SUCCEEDED, "re-evaluated after the run: compliant"

    async def _settle(
        self, record: DecisionRecord, outcome: Outcome, *, note: str, approver: str | None = None
    ) -> None:
        done = ledger.settled(record, outcome, at=self.clock.now(), approver=approver, note=note)
        await self._put(done)
        self._publish(EventType.DECISION_SETTLED, done, f"{outcome.value}: {note}")

    async def _put(self, record: DecisionRecord) -> None:
        await asyncio.to_thread(self.store.put_daemon_decision, ledger.to_entry(record))

    def _publish(self, type: EventType, record: DecisionRecord, message: str) -> None:
        self.bus.publish(ledger.event(record, type, at=self.clock.now(), message=message))


def subject_of(violation: Decision) -> str:
    return f"{violation.binding}/{violation.resource.key}"


def _facts(violation: Decision, *, attempt: int, escalated: bool) -> dict[str, Any]:
    return {
        "resource": violation.resource.key,
        "namespace": violation.resource.namespace or "",
        "enforcement": violation.enforcement.value,
        "messages": list(violation.messages),
        "attempt": attempt,
        "escalated": escalated,
    }


def _tried(history: list[DecisionRecord]) -> set[str]:
    """Options that failed, were rejected or expired since the violation was last fixed."""
    tried: set[str] = set()
    for record in history:  # newest first
        if record.outcome is Outcome.SUCCEEDED:
            break
        if record.outcome in _TRIED and record.choice.chosen is not None:
            tried.add(record.choice.chosen.name)
    return tried


def _cooling_until(history: list[DecisionRecord], how: models.Remediation) -> datetime | None:
    """When the cooldown after the newest settled decision ends (None: nothing settled)."""
    settled = next((r.settled_at for r in history if r.settled_at), None)
    if settled is None:
        return None
    return datetime.fromisoformat(settled) + timedelta(seconds=types.seconds(how.cooldown))


def _answer(run: RunRecord) -> dict[str, Any]:
    """The approval step's newest outputs ({} when the run asked nobody)."""
    found = [s for s in run.steps if s.name == remediation.APPROVE]
    return dict(found[-1].output) if found else {}
