"""The one interface every step kind implements, and what a step may ask of its run.

A kind is an object with `async def run(step, ctx) -> StepResult`. It renders its fields
with `ctx.scope`, does its work and returns outputs, or raises `StepFailed`. Timeouts,
retries, persistence and parallelism are the engine's: a kind only has to stop promptly
and clean up (kill its processes) when it is cancelled. What the engine cannot know (which
workflow a name means, how to sync a source, how to evaluate a policy) comes from the
injected `Services`; what only the running engine can do (wait for a human, start a child
run, record an event) comes from `ctx.host`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from reconciler.children import NO_LEDGER, ChildLedger
from reconciler.clock import Clock
from reconciler.errors import ReconcilerError, UsageError
from reconciler.runstate import RunKind, RunRecord
from reconciler.specs import flows

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class PolicyVerdict:
    allowed: bool
    messages: tuple[str, ...] = ()


async def _no_sync(source: str | None) -> Any:
    raise StepFailed("no sync service is configured")


async def _no_policy(policy: str, document: Mapping[str, Any]) -> PolicyVerdict:
    raise StepFailed("no policy evaluator is configured")


@dataclass(frozen=True, kw_only=True)
class Vetting:
    """What the command-safety check found in a run's commands before it starts."""

    findings: tuple[str, ...] = ()
    allowed: bool = False  # the spec's `dangerousCommands` override allows them
    reason: str = ""  # the override's reason
    confirmed: bool = False  # a human already confirmed the override (`runbook execute`)


def _unvetted(spec: flows.Workflow | flows.Runbook, variables: Mapping[str, Any]) -> Vetting:
    return Vetting()


def _quiet(line: str) -> None:
    return None


@dataclass(frozen=True, kw_only=True)
class Ask:
    """A question a step puts to a human, and who may answer it (`role:<role>` or names)."""

    prompt: str
    approvers: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class DecisionRequest:
    """A `decision` step with `options`: what it asks the daemon to score."""

    run_id: str
    workflow: str
    step: str
    options: tuple[str, ...]
    policy: str | None  # the rules' package; None: data.reconciler.decisions.workflow
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class DecisionVerdict:
    """The daemon's choice among a decision step's options."""

    decision: str  # the decision record's id
    chosen: str
    confidence: float
    level: str
    explanation: str
    ask: Ask | None = None  # set when the level needs a human's approval first


async def _no_decide(request: DecisionRequest) -> DecisionVerdict:
    raise StepFailed("decision options are scored by the daemon (reconciler serve) only")


def _none(name: str) -> None:
    return None


@dataclass(frozen=True, kw_only=True)
class Services:
    """What the engine asks of the rest of the daemon; defaults refuse politely."""

    workflow: Callable[[str], flows.Workflow | None] = _none
    runbook: Callable[[str], flows.Runbook | None] = _none
    request_sync: Callable[[str | None], Awaitable[Any]] = _no_sync
    evaluate_policy: Callable[[str, Mapping[str, Any]], Awaitable[PolicyVerdict]] = _no_policy
    vet: Callable[[flows.Workflow | flows.Runbook, Mapping[str, Any]], Vetting] = _unvetted
    decide: Callable[[DecisionRequest], Awaitable[DecisionVerdict]] = _no_decide


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Bounds shared by every run of one engine."""

    global_slots: asyncio.Semaphore | None = None  # command and http steps of all runs
    max_output_bytes: int = 64 * 1024  # kept of each of stdout and stderr
    kill_grace: float = 2.0  # seconds between SIGTERM and SIGKILL of a process group
    http_max_body: int = 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class Approval:
    """A human's answer to an approval step (or to a resume question)."""

    approved: bool
    approver: str
    comment: str = ""
    at: str = ""


class Host(Protocol):
    """What the running engine does for a step."""

    async def await_approval(
        self, step: str, *, timeout: float | None, ask: Ask | None = None
    ) -> Approval | None:
        """The answer for `step`, or None when `timeout` seconds passed first; `ask` is
        the question and its approvers when the step's spec does not hold them."""
        ...

    async def record_event(self, *, type: str, message: str, data: dict[str, Any]) -> None: ...

    async def run_child(
        self,
        *,
        kind: RunKind,
        spec: flows.Workflow | flows.Runbook,
        variables: Mapping[str, Any],
        child_id: str,
    ) -> RunRecord:
        """Run (or re-attach to) a child run with a fixed id and wait for it."""
        ...


@dataclass(frozen=True, kw_only=True)
class StepContext:
    run_id: str
    attempt: int
    scope: Mapping[str, Any]  # `steps`, `vars`, `run` for templates and expressions
    services: Services
    limits: Limits
    clock: Clock
    sleep: Sleep
    host: Host
    since: datetime | None = None  # the step's first start in this run (kept across restarts)
    announce: Callable[[str], None] = _quiet  # a line of progress about this step
    children: ChildLedger = NO_LEDGER  # where its child process groups are entered


@dataclass(frozen=True, kw_only=True)
class StepResult:
    outputs: dict[str, Any] = field(default_factory=dict)
    skip: tuple[str, ...] = ()  # steps of a branch not taken


class StepFailed(ReconcilerError):
    """The step ran and failed; `outputs` are kept, `exit_code` feeds retry conditions."""

    def __init__(
        self, message: str, *, outputs: dict[str, Any] | None = None, exit_code: int | None = None
    ) -> None:
        super().__init__(message)
        self.outputs = outputs or {}
        self.exit_code = exit_code


class UnsafeCommands(UsageError):
    """The safety policy flags commands of a run and its spec does not allow them."""


class Kind(Protocol):
    """One step kind."""

    async def run(self, step: flows.Step, ctx: StepContext) -> StepResult: ...
