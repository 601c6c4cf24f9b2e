"""What one run executes, checked before it starts and kept so it can resume.

An `ExecutionPlan` is the run's steps, failure handlers, limits and variables, built from a Workflow
or a Runbook. `check` finds everything that would fail for sure before a step runs (graph
errors, expressions and templates outside the language, branch targets that could start
before their decision), so a bad spec made in code is refused up front. The plan is stored
with the run in a bookkeeping step record (`META`), so `Engine.resume` after a restart runs
exactly what was started even if the spec in Git has changed since.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from reconciler.run import dag, expressions, retry, templating, variables
from reconciler.runstate import RunKind, StepRecord, StepStatus
from reconciler.specs import flows, types

META = "#run"
"""Name of the bookkeeping step record; no step name can start with `#`."""
SAFETY_APPROVAL = "dangerous-commands"
"""Name of the approval step a run gets when its commands are dangerous but allowed."""


@dataclass(frozen=True, kw_only=True)
class ExecutionPlan:
    kind: RunKind
    name: str
    spec: flows.Workflow | flows.Runbook
    variables: Mapping[str, Any] = field(default_factory=dict)
    parent: str | None = None

    @property
    def steps(self) -> list[flows.Step]:
        return list(self.spec.spec.steps)

    @property
    def on_failure(self) -> list[flows.Step]:
        return list(self.spec.spec.on_failure) if isinstance(self.spec, flows.Workflow) else []

    @property
    def max_parallelism(self) -> int:
        return self.spec.spec.max_parallelism if isinstance(self.spec, flows.Workflow) else 1

    @property
    def scope_variables(self) -> dict[str, Any]:
        """`vars` of the run's templates and expressions (see `run.variables.scope`)."""
        if isinstance(self.spec, flows.Runbook):
            return variables.scope(self.spec.spec.variables, self.variables)
        return dict(self.variables)

    @property
    def timeout(self) -> float | None:
        text = self.spec.spec.timeout
        return None if text is None else types.seconds(text)


def of_workflow(
    workflow: flows.Workflow, *, variables: Mapping[str, Any], parent: str | None = None
) -> ExecutionPlan:
    plan = ExecutionPlan(
        kind=RunKind.WORKFLOW,
        name=workflow.metadata.name,
        spec=workflow,
        variables=dict(variables),
        parent=parent,
    )
    check(plan)
    return plan


def of_runbook(
    runbook: flows.Runbook, *, variables: Mapping[str, Any], parent: str | None = None
) -> ExecutionPlan:
    plan = ExecutionPlan(
        kind=RunKind.RUNBOOK,
        name=runbook.metadata.name,
        spec=runbook,
        variables=runbook_variables(runbook, variables),
        parent=parent,
    )
    check(plan)
    return plan


def check(plan: ExecutionPlan) -> None:
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


def with_approval(plan: ExecutionPlan, *, message: str) -> ExecutionPlan:
    """`plan` with an approval step first: every step without dependencies waits for it."""
    taken = {s.name for s in [*plan.steps, *plan.on_failure]}
    name = SAFETY_APPROVAL
    while name in taken:
        name += "-approval"
    steps = plan.spec.spec.steps
    gate = type(steps[0]).model_validate(
        {"name": name, "kind": "approval", "approval": {"message": message}}
    )
    waiting = [s.model_copy(update={"depends_on": list(s.depends_on) or [name]}) for s in steps]
    inner = plan.spec.spec.model_copy(update={"steps": [gate, *waiting]})
    return replace(plan, spec=plan.spec.model_copy(update={"spec": inner}))


def runbook_variables(runbook: flows.Runbook, given: Mapping[str, Any]) -> dict[str, Any]:
    """`given` typed and checked against the declared variables, with defaults filled in."""
    try:
        return variables.resolve(runbook.spec.variables, given)
    except variables.VariableError as exc:
        raise variables.VariableError(f"runbook {runbook.metadata.name}: {exc}") from None


def _check_branches(graph: dag.Dag, step: flows.Step) -> None:
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


def _templates(step: flows.Step) -> list[str]:
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


def _expressions(step: flows.Step) -> list[str]:
    found = [step.decision.when] if step.decision and step.decision.when else []
    if step.wait is not None and step.wait.until is not None:
        found.append(step.wait.until)
    return found


def meta_record(plan: ExecutionPlan, *, paused: bool = False) -> StepRecord:
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


def from_meta(record: StepRecord) -> tuple[ExecutionPlan, bool]:
    """The plan and the paused flag kept by `meta_record`."""
    output = record.output
    kind = RunKind(output["kind"])
    model = flows.Runbook if output["spec"].get("kind") == "Runbook" else flows.Workflow
    spec = model.model_validate(output["spec"])
    plan = ExecutionPlan(
        kind=kind,
        name=spec.metadata.name,
        spec=spec,
        variables=output.get("variables") or {},
        parent=output.get("parent"),
    )
    return plan, bool(output.get("paused"))
