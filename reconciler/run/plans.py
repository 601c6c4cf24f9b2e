"""What one run executes, checked before it starts and kept so it can resume.

A `Plan` is the run's steps, failure handlers, limits and variables, built from a Workflow
or a Runbook. `check` finds everything that would fail for sure before a step runs (graph
errors, expressions and templates outside the language, branch targets that could start
before their decision), so a bad spec made in code is refused up front. The plan is stored
with the run in a bookkeeping step record (`META`), so `Engine.resume` after a restart runs
exactly what was started even if the spec in Git has changed since.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import UsageError
from reconciler.run import dag, expressions, retry, templating
from reconciler.specs import runs, types
from reconciler.store.base import RunKind, StepRecord, StepStatus

META = "#run"
"""Name of the bookkeeping step record; no step name can start with `#`."""


@dataclass(frozen=True, kw_only=True)
class Plan:
    kind: RunKind
    name: str
    spec: runs.Workflow | runs.Runbook
    variables: Mapping[str, Any] = field(default_factory=dict)
    parent: str | None = None

    @property
    def steps(self) -> list[runs.Step]:
        return list(self.spec.spec.steps)

    @property
    def on_failure(self) -> list[runs.Step]:
        return list(self.spec.spec.on_failure) if isinstance(self.spec, runs.Workflow) else []

    @property
    def max_parallelism(self) -> int:
        return self.spec.spec.max_parallelism if isinstance(self.spec, runs.Workflow) else 1

    @property
    def timeout(self) -> float | None:
        text = self.spec.spec.timeout
        return None if text is None else types.seconds(text)


def of_workflow(
    workflow: runs.Workflow, *, variables: Mapping[str, Any], parent: str | None = None
) -> Plan:
    plan = Plan(
        kind=RunKind.WORKFLOW,
        name=workflow.metadata.name,
        spec=workflow,
        variables=dict(variables),
        parent=parent,
    )
    check(plan)
    return plan


def of_runbook(
    runbook: runs.Runbook, *, variables: Mapping[str, Any], parent: str | None = None
) -> Plan:
    plan = Plan(
        kind=RunKind.RUNBOOK,
        name=runbook.metadata.name,
        spec=runbook,
        variables=runbook_variables(runbook, variables),
        parent=parent,
    )
    check(plan)
    return plan


def check(plan: Plan) -> None:
    """Raise `GraphError`/`ExpressionError` for what would surely fail once running."""
    graph = dag.build(plan.steps)
    dag.build(plan.on_failure)
    for step in plan.steps:
        _check_branches(graph, step)
    for step in [*plan.steps, *plan.on_failure]:
        for text in _templates(step):
            templating.references(text)
        for text in _expressions(step):
            expressions.parse(text)
        retry.RetryPolicy.of(step.retry)


def runbook_variables(runbook: runs.Runbook, given: Mapping[str, Any]) -> dict[str, Any]:
    """`given` checked against the declared variables, with defaults filled in."""
    declared = {v.name: v for v in runbook.spec.variables}
    where = f"runbook {runbook.metadata.name}"
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise UsageError(f'{where}: unknown variable "{unknown[0]}"')
    values: dict[str, Any] = {}
    for name, variable in declared.items():
        value = given.get(name, variable.default)
        if value is None:
            if variable.required:
                raise UsageError(f'{where}: variable "{name}" is required')
            continue
        _check_variable(where, variable, value)
        values[name] = value
    return values


def _check_variable(where: str, variable: runs.Variable, value: Any) -> None:
    accepted, words = runs._TYPE_CHECKS[variable.type]
    is_bool = isinstance(value, bool)
    if not isinstance(value, accepted) or (
        is_bool and variable.type is not runs.VariableType.BOOLEAN
    ):
        raise UsageError(f'{where}: variable "{variable.name}" must be {words}')
    if variable.pattern and not re.search(variable.pattern, str(value)):
        raise UsageError(f'{where}: variable "{variable.name}" must match {variable.pattern}')


def _check_branches(graph: dag.Dag, step: runs.Step) -> None:
    for target in dag.branch_targets(step):
        if step.name not in _ancestors(graph, target):
            raise dag.GraphError(
                f'step "{target}" is a branch of "{step.name}" and must depend on it'
            )


def _ancestors(graph: dag.Dag, name: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph.deps(name))
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(graph.deps(current))
    return seen


def _templates(step: runs.Step) -> list[str]:
    found = list(step.command or [])
    if step.http is not None:
        found += [step.http.url, *step.http.headers.values(), *_strings(step.http.body)]
    for payload in (
        step.subflow and step.subflow.inputs,
        step.runbook and step.runbook.variables,
        step.policy and step.policy.input,
    ):
        found += _strings(payload or {})
    return found


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _expressions(step: runs.Step) -> list[str]:
    found = [step.decision.when] if step.decision and step.decision.when else []
    if step.wait is not None and step.wait.until is not None:
        found.append(step.wait.until)
    return found


def meta_record(plan: Plan, *, paused: bool = False) -> StepRecord:
    """The bookkeeping record that lets a run resume: its plan and state flags."""
    document = plan.spec.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    output = {
        "kind": plan.kind.value,
        "spec": document,
        "variables": dict(plan.variables),
        "parent": plan.parent,
        "paused": paused,
    }
    return StepRecord(name=META, status=StepStatus.PENDING, attempt=0, output=output)


def from_meta(record: StepRecord) -> tuple[Plan, bool]:
    """The plan and the paused flag kept by `meta_record`."""
    output = record.output
    kind = RunKind(output["kind"])
    model = runs.Runbook if output["spec"].get("kind") == "Runbook" else runs.Workflow
    spec = model.model_validate(output["spec"])
    plan = Plan(
        kind=kind,
        name=spec.metadata.name,
        spec=spec,
        variables=output.get("variables") or {},
        parent=output.get("parent"),
    )
    return plan, bool(output.get("paused"))
