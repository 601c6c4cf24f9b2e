"""Running a runbook plan: one command at a time, with checks, retries and rollback.

`Executor` is the seam: `SequentialExecutor` runs the plan's steps in order on the calling
thread, each command through a `CommandRunner`. `SubprocessRunner` execs the argv directly
(`/bin/sh -c` only for `shell: true`), in a new session so that a timeout kills the whole
process group, not just its leader. When a step fails (after its retries), the remaining
steps are skipped except those marked `always`, and the rollback commands of the steps that
completed run in reverse order. The jitter of a retry's backoff is random by design.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from reconciler.clock import Clock
from reconciler.run import runbook_expect
from reconciler.run.runbook_plan import Command, Plan, Step
from reconciler.specs import runs, types
from reconciler.store.base import RunStatus, StepStatus

SUPPORTED_KINDS = frozenset({runs.StepKind.COMMAND, runs.StepKind.WAIT})
Progress = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class CommandResult:
    exit_code: int | None
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    error: str | None = None  # the command could not be started
    duration: float = 0.0  # seconds


class CommandRunner(Protocol):
    def run(self, command: Command, *, timeout: float | None) -> CommandResult: ...


@dataclass(frozen=True, kw_only=True)
class SubprocessRunner:
    """Runs commands as child processes, each the leader of a new process group."""

    clock: Clock
    cwd: Path | None = None
    env: Mapping[str, str] | None = None

    def run(self, command: Command, *, timeout: float | None) -> CommandResult:
        argv = ["/bin/sh", "-c", " ".join(command.argv)] if command.shell else list(command.argv)
        started = self.clock.monotonic()
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                cwd=self.cwd,
                env=None if self.env is None else dict(self.env),
            )
        except (OSError, ValueError) as exc:
            message = getattr(exc, "strerror", None) or str(exc)
            return CommandResult(exit_code=None, error=f"cannot start {argv[0]}: {message}")
        timed_out = False
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            kill_group(proc.pid)
            out, err = proc.communicate()
        return CommandResult(
            exit_code=proc.returncode,
            stdout=out.decode("utf-8", errors="replace"),
            stderr=err.decode("utf-8", errors="replace"),
            timed_out=timed_out,
            duration=self.clock.monotonic() - started,
        )


def kill_group(pgid: int) -> None:
    """SIGKILL every process of a group; a group that is already gone is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


@dataclass(frozen=True, kw_only=True)
class Attempt:
    number: int
    started_at: datetime
    duration: float
    result: CommandResult | None  # None for a wait step
    failures: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class StepResult:
    name: str
    status: StepStatus
    command: Command | None = None
    attempts: tuple[Attempt, ...] = ()
    duration: float = 0.0

    @property
    def error(self) -> str | None:
        if self.status is not StepStatus.FAILED or not self.attempts:
            return None
        return "; ".join(self.attempts[-1].failures) or None


@dataclass(frozen=True, kw_only=True)
class RunResult:
    plan: Plan
    status: RunStatus
    steps: tuple[StepResult, ...]
    rollbacks: tuple[StepResult, ...]
    started_at: datetime
    finished_at: datetime
    duration: float

    @property
    def error(self) -> str | None:
        failed = next((s for s in self.steps if s.status is StepStatus.FAILED), None)
        return None if failed is None else f"step {failed.name}: {failed.error}"


class Executor(Protocol):
    def execute(self, plan: Plan, *, progress: Progress) -> RunResult: ...


def unsupported(plan: Plan) -> list[str]:
    """Steps this module's executor cannot run, as messages."""
    found = [
        f"step {s.name}: kind {s.kind.value} is not supported by the sequential executor"
        for s in plan.steps
        if s.kind not in SUPPORTED_KINDS
    ]
    found += [
        f"step {s.name}: wait until is not supported by the sequential executor"
        for s in plan.steps
        if s.kind is runs.StepKind.WAIT and s.wait_seconds is None
    ]
    return found


class SequentialExecutor:
    """Runs the steps one after the other on the calling thread."""

    def __init__(
        self, *, runner: CommandRunner, clock: Clock, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.runner, self.clock, self.sleep = runner, clock, sleep

    def execute(self, plan: Plan, *, progress: Progress) -> RunResult:
        started, t0 = self.clock.now(), self.clock.monotonic()
        deadline = None if plan.timeout is None else t0 + plan.timeout
        results: list[StepResult] = []
        completed: list[Step] = []
        failed = False
        total = len(plan.steps)
        for number, step in enumerate(plan.steps, start=1):
            label = f"[{number}/{total}] {step.name}"
            if failed and not step.always:
                progress(f"{label}: skipped")
                results.append(StepResult(name=step.name, status=StepStatus.SKIPPED))
                continue
            result = self._step(step, label=label, deadline=deadline, progress=progress)
            results.append(result)
            if result.status is StepStatus.SUCCEEDED:
                completed.append(step)
            failed = failed or result.status is StepStatus.FAILED
        rollbacks = self._rollback(completed, progress=progress) if failed else ()
        return RunResult(
            plan=plan,
            status=RunStatus.FAILED if failed else RunStatus.SUCCEEDED,
            steps=tuple(results),
            rollbacks=tuple(rollbacks),
            started_at=started,
            finished_at=self.clock.now(),
            duration=self.clock.monotonic() - t0,
        )

    def _step(
        self, step: Step, *, label: str, deadline: float | None, progress: Progress
    ) -> StepResult:
        tries = step.retry.max_attempts if step.retry else 1
        attempts: list[Attempt] = []
        t0 = self.clock.monotonic()
        if step.command is not None:
            progress(f"{label}: running {step.command.line}")
        for number in range(1, tries + 1):
            attempt = self._attempt(step, number=number, deadline=deadline)
            attempts.append(attempt)
            if not attempt.failures:
                progress(f"{label}: succeeded in {attempt.duration:.2f}s")
                break
            why = "; ".join(attempt.failures)
            if number < tries and step.retry is not None:
                delay = backoff(step.retry, attempt=number)
                progress(f"{label}: attempt {number}/{tries} failed: {why}; retry in {delay:.2f}s")
                self.sleep(delay)
            else:
                progress(f"{label}: failed: {why}")
        status = StepStatus.FAILED if attempts[-1].failures else StepStatus.SUCCEEDED
        duration = self.clock.monotonic() - t0
        return StepResult(
            name=step.name,
            status=status,
            command=step.command,
            attempts=tuple(attempts),
            duration=duration,
        )

    def _attempt(self, step: Step, *, number: int, deadline: float | None) -> Attempt:
        started, t0 = self.clock.now(), self.clock.monotonic()
        if step.kind not in SUPPORTED_KINDS:
            failure = f"kind {step.kind.value} is not supported by the sequential executor"
            return Attempt(
                number=number, started_at=started, duration=0.0, result=None, failures=(failure,)
            )
        if step.command is None:  # a wait step
            self.sleep(_bounded(step.wait_seconds or 0.0, deadline, now=t0) or 0.0)
            duration = self.clock.monotonic() - t0
            return Attempt(number=number, started_at=started, duration=duration, result=None)
        timeout = _bounded(step.command.timeout, deadline, now=t0)
        result = self.runner.run(step.command, timeout=timeout)
        failures = runbook_expect.failures(step.expect, result=result, timeout=timeout)
        return Attempt(
            number=number,
            started_at=started,
            duration=self.clock.monotonic() - t0,
            result=result,
            failures=tuple(failures),
        )

    def _rollback(self, completed: Sequence[Step], *, progress: Progress) -> list[StepResult]:
        done: list[StepResult] = []
        for step in reversed(completed):
            if step.rollback is None:
                continue
            progress(f"rollback {step.name}: running {step.rollback.line}")
            t0, started = self.clock.monotonic(), self.clock.now()
            result = self.runner.run(step.rollback, timeout=step.rollback.timeout)
            failures = tuple(
                runbook_expect.failures(None, result=result, timeout=step.rollback.timeout)
            )
            duration = self.clock.monotonic() - t0
            progress(f"rollback {step.name}: " + ("; ".join(failures) or "succeeded"))
            attempt = Attempt(
                number=1, started_at=started, duration=duration, result=result, failures=failures
            )
            status = StepStatus.FAILED if failures else StepStatus.SUCCEEDED
            done.append(
                StepResult(
                    name=step.name,
                    status=status,
                    command=step.rollback,
                    attempts=(attempt,),
                    duration=duration,
                )
            )
        return done


def backoff(retry: runs.Retry, *, attempt: int) -> float:
    """Seconds to wait after failed attempt `attempt` (1-based): doubled each time, capped."""
    delay = types.seconds(retry.backoff) * 2 ** (attempt - 1)
    if retry.max_backoff is not None:
        delay = min(delay, types.seconds(retry.max_backoff))
    return float(delay * random.uniform(0.5, 1.0) if retry.jitter else delay)


def _bounded(timeout: float | None, deadline: float | None, *, now: float) -> float | None:
    if deadline is None:
        return timeout
    remaining = max(deadline - now, 0.0)
    return remaining if timeout is None else min(timeout, remaining)
