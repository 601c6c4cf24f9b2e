"""Decisions on the head's resources under the base policies and under the head's.

Both bundles see the same inputs (the head's desired documents, with the observed state and
planned change where the plan has them), so every difference comes from the policies, their
bindings or the resources the change edits. Decisions are paired by (binding, resource key);
a binding that exists on one side only pairs with nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.clock import Clock
from reconciler.policy.bundle import Bundle
from reconciler.policy.decisions import Action, Decision, Outcome
from reconciler.policy.evaluate import Evaluator
from reconciler.simulate.records import DecisionDelta, DecisionsSection, Delta
from reconciler.specs.snapshot import Snapshot

_DENIED = frozenset({Outcome.DENY, Outcome.ERROR})
Inputs = Mapping[str, tuple[dict[str, Any] | None, dict[str, Any] | None]]


def denies(decision: Decision | None) -> bool:
    """The policy found the resource at fault and no exception excused it."""
    return (
        decision is not None
        and decision.outcome in _DENIED
        and decision.action_taken is not Action.EXEMPTED
    )


def evaluate(
    bundle: Bundle, snapshot: Snapshot, *, inputs: Inputs, clock: Clock, revision: str | None
) -> list[Decision]:
    evaluator = Evaluator(bundle, clock=clock, revision=revision)
    out: list[Decision] = []
    for doc in snapshot.resources:
        observed, change = inputs.get(doc.key, (None, None))
        out.extend(evaluator.evaluate(doc, observed=observed, change=change))
    return out


def compare(
    base: Iterable[Decision], head: Iterable[Decision], *, snapshot: Snapshot
) -> DecisionsSection:
    before = {(d.binding, d.resource.key): d for d in base}
    after = {(d.binding, d.resource.key): d for d in head}
    lines = {doc.key: doc.line for doc in snapshot.resources}
    deltas = []
    for pair in sorted(before.keys() | after.keys()):
        found = _delta(before.get(pair), after.get(pair))
        if found is not None:
            deltas.append(_record(found, before.get(pair), after.get(pair), lines))
    blocked: dict[str, list[str]] = {}
    for d in after.values():
        if d.action_taken is Action.BLOCKED:
            blocked.setdefault(d.resource.key, []).append(d.policy)
    return DecisionsSection(
        resources=len(snapshot.resources),
        decisions_base=len(before),
        decisions_head=len(after),
        deltas=tuple(deltas),
        blocked_at_head=blocked,
    )


def _delta(old: Decision | None, new: Decision | None) -> Delta | None:
    if denies(new) and (not denies(old) or _newly_blocking(old, new)):
        return Delta.NEWLY_DENIED
    if denies(old) and not denies(new):
        return Delta.NEWLY_ALLOWED
    if (
        new is not None
        and new.outcome is Outcome.WARN
        and (old is None or old.outcome is not Outcome.WARN or old.messages != new.messages)
    ):
        return Delta.NEW_WARNING
    return None


def _newly_blocking(old: Decision | None, new: Decision | None) -> bool:
    return (
        new is not None
        and new.action_taken is Action.BLOCKED
        and (old is None or old.action_taken is not Action.BLOCKED)
    )


def _record(
    delta: Delta, old: Decision | None, new: Decision | None, lines: Mapping[str, int]
) -> DecisionDelta:
    shown = new if new is not None else old
    assert shown is not None
    return DecisionDelta(
        delta=delta,
        binding=shown.binding,
        policy=shown.policy,
        key=shown.resource.key,
        path=shown.resource.path,
        line=lines.get(shown.resource.key),
        enforcement=shown.enforcement.value,
        outcome_before=old.outcome.value if old else None,
        outcome_after=new.outcome.value if new else None,
        action_before=old.action_taken.value if old else None,
        action_after=new.action_taken.value if new else None,
        messages=shown.messages,
        blocking=delta is Delta.NEWLY_DENIED
        and new is not None
        and new.action_taken is Action.BLOCKED,
    )
