"""The graph of a workflow's steps: checked once, then asked what may run next.

The spec loader rejects bad graphs with file and line; `build` checks again for specs made
in code (duplicate names, unknown dependencies or branch targets, cycles named in full).
`ready` and `blocked_by` implement the scheduling rules: a step runs once every dependency
has finished; it is skipped when a dependency failed (unless it is `always`), or when it
has dependencies and every one of them was skipped (a branch not taken skips what hangs
off it, while a join after both branches still runs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from reconciler.errors import StalledError
from reconciler.runstate import StepStatus
from reconciler.specs import flows

DONE = frozenset(
    {StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.CANCELLED}
)
BAD = frozenset({StepStatus.FAILED, StepStatus.CANCELLED})


class GraphError(StalledError, ValueError):
    """The steps do not form a valid DAG."""


@dataclass(frozen=True, kw_only=True)
class Dag:
    steps: Mapping[str, flows.Step]
    order: tuple[str, ...]  # a topological order, stable with the spec order
    dependents: Mapping[str, tuple[str, ...]]

    def deps(self, name: str) -> list[str]:
        return self.steps[name].depends_on

    def ready(self, states: Mapping[str, StepStatus]) -> list[str]:
        """Steps not started whose dependencies have all finished, in topological order."""
        return [
            n
            for n in self.order
            if n not in states and all(states.get(d) in DONE for d in self.deps(n))
        ]

    def verdict(self, name: str, states: Mapping[str, StepStatus]) -> StepStatus | None:
        """SKIPPED when `name` must not run (see the module docstring), else None."""
        deps = [states[d] for d in self.deps(name)]
        if any(s in BAD for s in deps) and not self.steps[name].always:
            return StepStatus.SKIPPED
        if deps and all(s is StepStatus.SKIPPED for s in deps):
            return StepStatus.SKIPPED
        return None

    def levels(self) -> list[list[str]]:
        """Steps grouped by depth: each group can run in parallel once the previous ended."""
        depth: dict[str, int] = {}
        for name in self.order:
            depth[name] = 1 + max((depth[d] for d in self.deps(name)), default=-1)
        groups: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
        for name in self.order:
            groups[depth[name]].append(name)
        return groups


def build(steps: Sequence[flows.Step]) -> Dag:
    """The checked graph of `steps`; `GraphError` names what is wrong."""
    by_name: dict[str, flows.Step] = {}
    for step in steps:
        if step.name in by_name:
            raise GraphError(f'duplicate step "{step.name}"')
        by_name[step.name] = step
    for step in steps:
        for name in [*step.depends_on, *branch_targets(step)]:
            if name not in by_name:
                raise GraphError(f'step "{step.name}" refers to no step "{name}"')
    cycle = flows.find_cycle({s.name: list(s.depends_on) for s in steps})
    if cycle:
        raise GraphError("cycle: " + " -> ".join(cycle))
    return Dag(steps=by_name, order=_topological(steps), dependents=_dependents(steps))


def branch_targets(step: flows.Step) -> list[str]:
    """Steps a decision or policy step may skip."""
    if step.decision is not None:
        return [
            *step.decision.then,
            *step.decision.else_,
            *(n for option in step.decision.options for n in option.next),
        ]
    if step.policy is not None:
        return [*step.policy.allow, *step.policy.deny]
    return []


def _topological(steps: Sequence[flows.Step]) -> tuple[str, ...]:
    placed: dict[str, None] = {}
    remaining = list(steps)
    while remaining:
        rest = []
        for step in remaining:
            if all(d in placed for d in step.depends_on):
                placed[step.name] = None
            else:
                rest.append(step)
        remaining = rest
    return tuple(placed)


def _dependents(steps: Iterable[flows.Step]) -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    for step in steps:
        for dep in step.depends_on:
            found.setdefault(dep, []).append(step.name)
    return {name: tuple(names) for name, names in found.items()}
