"""The plan of one runbook run: its steps in execution order with their commands rendered.

`runbook test` prints it and stops (nothing runs); `runbook execute` runs the runbook on
the workflow engine and its report shows each step's argv from here. Order follows
`dependsOn`, and among steps that are ready, the order they are written in. Commands
render with the engine's renderer (`run.templating`), so the plan shows what runs. The
rendered document (variables substituted) is kept too, so the safety pack can look at the
commands as they will actually run.
"""

from __future__ import annotations

import copy
import heapq
import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.run import expressions, templating
from reconciler.run import variables as run_vars
from reconciler.runbooks import variables as runbook_vars
from reconciler.specs import flows, types


@dataclass(frozen=True, kw_only=True)
class Command:
    """A command as it will run: argv exactly as passed to exec (or to `/bin/sh -c`)."""

    argv: tuple[str, ...]
    shell: bool = False
    timeout: float | None = None  # seconds

    @property
    def line(self) -> str:
        """How the command reads: the shell line, or the argv quoted for a shell."""
        return " ".join(self.argv) if self.shell else _quoted(self.argv)

    def as_json(self) -> dict[str, Any]:
        return {"argv": list(self.argv), "shell": self.shell, "timeoutSeconds": self.timeout}


@dataclass(frozen=True, kw_only=True)
class PlannedStep:
    index: int  # position in `spec.steps`
    name: str
    kind: flows.StepKind
    depends_on: tuple[str, ...]
    command: Command | None
    expect: flows.Expect | None
    retry: flows.Retry | None
    rollback: Command | None
    always: bool
    wait_seconds: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind.value,
            "dependsOn": list(self.depends_on),
            "command": self.command.as_json() if self.command else None,
            "expect": self.expect.model_dump(by_alias=True, exclude_none=True)
            if self.expect
            else None,
            "retry": self.retry.model_dump(by_alias=True) if self.retry else None,
            "rollback": self.rollback.as_json() if self.rollback else None,
            "always": self.always,
        }


@dataclass(frozen=True, kw_only=True)
class RunbookPlan:
    name: str
    path: str
    type: flows.RunbookType
    description: str
    variables: Mapping[str, Any]
    steps: tuple[PlannedStep, ...]
    timeout: float | None
    rendered: dict[str, Any]  # the document with its variables substituted

    def as_json(self) -> dict[str, Any]:
        return {
            "runbook": self.name,
            "path": self.path,
            "type": self.type.value,
            "variables": dict(self.variables),
            "timeoutSeconds": self.timeout,
            "steps": [s.as_json() for s in self.steps],
        }


def build(
    *, model: flows.Runbook, path: str, body: Mapping[str, Any], given: Mapping[str, Any]
) -> RunbookPlan:
    """The plan of `model` with the variables `given`; `VariableError` when they are wrong."""
    spec = model.spec
    values = run_vars.resolve(spec.variables, given)
    scope = {"vars": run_vars.scope(spec.variables, values)}
    steps = [_step(i, s, scope=scope, run_timeout=spec.timeout) for i, s in enumerate(spec.steps)]
    return RunbookPlan(
        name=model.metadata.name,
        path=path,
        type=spec.type,
        description=spec.description,
        variables=values,
        steps=tuple(steps[i] for i in order(spec.steps)),
        timeout=_seconds(spec.timeout),
        rendered=_rendered(body, steps),
    )


def order(steps: Sequence[flows.RunbookStep]) -> list[int]:
    """Indexes of `steps` in dependency order, written order among ready steps (acyclic)."""
    index = {s.name: i for i, s in enumerate(steps)}
    waiting = {i: {index[d] for d in s.depends_on if d in index} for i, s in enumerate(steps)}
    ready = [i for i, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    out: list[int] = []
    while ready:
        done = heapq.heappop(ready)
        out.append(done)
        for i, deps in waiting.items():
            if done in deps:
                deps.discard(done)
                if not deps:
                    heapq.heappush(ready, i)
    return out


def _step(
    index: int, step: flows.RunbookStep, *, scope: Mapping[str, Any], run_timeout: str | None
) -> PlannedStep:
    timeout = _seconds(step.timeout or run_timeout)
    command = None
    if step.command is not None:
        argv = render_argv(step.command, scope, shell=step.shell)
        command = Command(argv=argv, shell=step.shell, timeout=timeout)
    rollback = None
    if step.rollback is not None:
        argv = render_argv(step.rollback.command, scope, shell=step.rollback.shell)
        rollback = Command(
            argv=argv, shell=step.rollback.shell, timeout=_seconds(step.rollback.timeout) or timeout
        )
    return PlannedStep(
        index=index,
        name=step.name,
        kind=step.kind,
        depends_on=tuple(step.depends_on),
        command=command,
        expect=step.expect,
        retry=step.retry,
        rollback=rollback,
        always=step.always,
        wait_seconds=_seconds(step.wait.duration) if step.wait else None,
    )


def render_argv(argv: Sequence[str], scope: Mapping[str, Any], *, shell: bool) -> tuple[str, ...]:
    """Each element rendered on its own by the engine's renderer (a `shell` command line
    holds no template: `specs.shellcode`).

    An element whose template is not one the engine can render (the checks report it) is
    kept as written.
    """
    rendered = []
    for item in argv:
        try:
            rendered.append(templating.render(item, scope))
        except expressions.ExpressionError:
            rendered.append(item)
    return tuple(rendered)


def _rendered(body: Mapping[str, Any], steps: Sequence[PlannedStep]) -> dict[str, Any]:
    rendered: dict[str, Any] = copy.deepcopy(dict(body))
    for step, raw in zip(steps, rendered.get("spec", {}).get("steps", []), strict=False):
        if step.command is not None:
            raw["command"] = list(step.command.argv)
        if step.rollback is not None and isinstance(raw.get("rollback"), dict):
            raw["rollback"]["command"] = list(step.rollback.argv)
    return rendered


def _seconds(duration: str | None) -> float | None:
    return None if duration is None else types.seconds(duration)


def _quoted(argv: Sequence[str]) -> str:
    return shlex.join(argv)


def render_text(plan: RunbookPlan) -> str:
    """The plan for people: one block per step, in execution order."""
    lines = [f"runbook {plan.name} ({plan.type.value}) from {plan.path}"]
    if plan.variables:
        shown = ", ".join(f"{k}={runbook_vars.display(v)}" for k, v in plan.variables.items())
        lines.append(f"variables: {shown}")
    if plan.timeout is not None:
        lines.append(f"run timeout: {_duration(plan.timeout)}")
    for number, step in enumerate(plan.steps, start=1):
        lines += _step_lines(number, step)
    lines.append(f"{len(plan.steps)} steps; dry run: nothing was executed")
    return "\n".join(lines)


def _step_lines(number: int, step: PlannedStep) -> list[str]:
    after = f" (after {', '.join(step.depends_on)})" if step.depends_on else ""
    lines = [f"{number}. {step.name} [{step.kind.value}]{after}"]
    if step.command is not None:
        lines.append(f"   run: {step.command.line}" + (" (shell)" if step.command.shell else ""))
        lines.append(f"   argv: {json.dumps(list(step.command.argv))}")
        timeout = step.command.timeout
        lines.append(f"   timeout: {_duration(timeout) if timeout is not None else 'none'}")
    if step.wait_seconds is not None:
        lines.append(f"   wait: {_duration(step.wait_seconds)}")
    lines.append(f"   expect: {_expect_text(step.expect)}")
    if step.retry is not None and step.retry.max_attempts > 1:
        lines.append(f"   retry: {step.retry.max_attempts} attempts, backoff {step.retry.backoff}")
    if step.rollback is not None:
        lines.append(f"   rollback: {step.rollback.line}")
    if step.always:
        lines.append("   always: runs even after a failure")
    return lines


def _expect_text(expect: flows.Expect | None) -> str:
    if expect is None:
        return "exit code 0"
    parts = [] if expect.exit_code is None else [f"exit code {expect.exit_code}"]
    if expect.stdout is not None:
        parts.append(f"stdout contains {json.dumps(expect.stdout)}")
    if expect.stderr is not None:
        parts.append(f"stderr contains {json.dumps(expect.stderr)}")
    if expect.stdout_regex is not None:
        parts.append(f"stdout matches {json.dumps(expect.stdout_regex)}")
    for check in expect.json_:
        if "equals" in check.model_fields_set:
            parts.append(f"{check.path} == {json.dumps(check.equals)}")
        else:
            parts.append(f"{check.path} {'exists' if check.exists is not False else 'is absent'}")
    return ", ".join(parts) or "anything"


def _duration(seconds: float) -> str:
    return f"{seconds:g}s"
