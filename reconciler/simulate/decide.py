"""Decisions on the head's resources under the base policies and under the head's.

Both bundles see the same inputs (the head's desired documents, with the observed state and
planned change where the plan has them), so every difference comes from the policies, their
bindings or the resources the change edits. Decisions are paired by (binding, resource key);
a binding that exists on one side only pairs with nothing.

Only what can differ is evaluated: resources the change edits (or that have a planned
change) under every binding, every other resource under the bindings whose policy, binding
document or constraint changed. A change to data or to a module no policy owns (a library)
may affect any policy, and then everything is evaluated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from typing import Any

from reconciler.clock import Clock
from reconciler.policy.bundle import Bundle
from reconciler.policy.decisions import Action, Decision, Outcome
from reconciler.policy.evaluate import Evaluator
from reconciler.simulate.records import DecisionDelta, DecisionsSection, Delta
from reconciler.specs.snapshot import Document, Snapshot

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
    bundle: Bundle,
    resources: Iterable[Document],
    *,
    inputs: Inputs,
    clock: Clock,
    revision: str | None,
) -> list[Decision]:
    evaluator = Evaluator(bundle, clock=clock, revision=revision)
    out: list[Decision] = []
    for doc in resources:
        observed, change = inputs.get(doc.key, (None, None))
        out.extend(evaluator.evaluate(doc, observed=observed, change=change))
    return out


def both(
    *,
    base: tuple[Snapshot, Bundle],
    head: tuple[Snapshot, Bundle],
    inputs: Inputs,
    clock: Clock,
    revision: str | None,
) -> tuple[list[Decision], list[Decision]]:
    """Decisions before and after the change on every resource the head has: unchanged
    resources under the base and the head bundle, resources the change edits as the base
    had them under the base bundle and as the head has them under the head's. Only what
    can differ is evaluated (see the module docstring)."""
    (base_snap, base_bundle), (head_snap, head_bundle) = base, head
    old = {d.key: d for d in base_snap.resources}
    pending = {k for k, (_, change) in inputs.items() if (change or {}).get("action") != "noop"}
    edited = [d for d in head_snap.resources if d.key in pending or _body(old, d.key) != d.body]
    kept = [d for d in head_snap.resources if d.key not in pending and _body(old, d.key) == d.body]
    was = [old[d.key] for d in edited if d.key in old]
    before_inputs = {d.key: (inputs.get(d.key, (None, None))[0], None) for d in was}
    changed = changed_bindings(base_bundle, head_bundle)
    before = evaluate(base_bundle, was, inputs=before_inputs, clock=clock, revision=revision)
    after = evaluate(head_bundle, edited, inputs=inputs, clock=clock, revision=revision)
    if changed is None or changed:
        for out, bundle in ((before, base_bundle), (after, head_bundle)):
            narrow = bundle if changed is None else narrowed(bundle, changed)
            out.extend(evaluate(narrow, kept, inputs=inputs, clock=clock, revision=revision))
    return before, after


def _body(docs: Mapping[str, Document], key: str) -> Any:
    found = docs.get(key)
    return None if found is None else found.body


def narrowed(bundle: Bundle, names: Set[str]) -> Bundle:
    """A copy of `bundle` with only the bindings and constraints named."""
    copy = bundle.without_engines()
    copy.bindings = tuple((d, b) for d, b in bundle.bindings if d.name in names)
    copy.constraints = tuple(c for c in bundle.constraints if c.id in names)
    return copy


def changed_bindings(base: Bundle, head: Bundle) -> set[str] | None:
    """Names of bindings (and constraint ids) whose decisions may differ between the two
    bundles on an unchanged resource; None when any may."""
    packages = changed_packages(base, head)
    if packages is None:
        return None
    names = set()
    for one, other in ((base, head), (head, base)):
        theirs = {d.name: d.body for d, _ in other.bindings}
        names |= {
            d.name
            for d, b in one.bindings
            if b.spec.policy in packages or theirs.get(d.name) != d.body
        }
        constraints = {c.id: c.doc.body for c in other.constraints}
        names |= {
            c.id
            for c in one.constraints
            if constraints.get(c.id) != c.doc.body or one.templates[c.kind].package in packages
        }
    return names


def changed_packages(base: Bundle, head: Bundle) -> set[str] | None:
    """Policy packages whose Rego differs, with the policies that refer to them; None when
    data or a module that is no policy's changed."""
    if base.data != head.data:
        return None
    before = {m.path: m.text for m in base.modules}
    after = {m.path: m.text for m in head.modules}
    edited = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
    owner = {
        path: info.package
        for b in (base, head)
        for info in b.policies.values()
        for path in info.paths
    }
    if any(path not in owner for path in edited):
        return None
    packages = {owner[path] for path in edited}
    texts = {**before, **after}
    while True:
        referring = {
            path for path, text in texts.items() if any(f"data.{pkg}" in text for pkg in packages)
        }
        if any(path not in owner for path in referring):
            return None
        grown = packages | {owner[path] for path in referring}
        if grown == packages:
            return packages
        packages = grown


def compare(
    base: Iterable[Decision], head: Iterable[Decision], *, before: Snapshot, snapshot: Snapshot
) -> DecisionsSection:
    """Deltas on the resources of `snapshot` (the head); `before` tells which it edits."""
    old = {d.key: d.body for d in before.resources}
    before_map = {_pair(d): d for d in base}
    after = {_pair(d): d for d in head}
    lines = {doc.key: doc.line for doc in snapshot.resources}
    cause = {
        doc.key: "policy"
        if old.get(doc.key) == doc.body
        else "edited"
        if doc.key in old
        else "added"
        for doc in snapshot.resources
    }
    deltas = []
    for pair in sorted(before_map.keys() | after.keys()):
        if pair[1] not in cause:
            continue  # the change removes the resource: nothing is decided about it
        found = _delta(before_map.get(pair), after.get(pair))
        if found is not None:
            record = _record(found, before_map.get(pair), after.get(pair), lines)
            deltas.append(record.model_copy(update={"cause": cause[pair[1]]}))
    blocked: dict[str, list[str]] = {}
    for d in after.values():
        if d.action_taken is Action.BLOCKED:
            blocked.setdefault(d.resource.key, []).append(d.policy)
    return DecisionsSection(
        resources=len(snapshot.resources),
        decisions_base=len(before_map),
        decisions_head=len(after),
        deltas=tuple(deltas),
        blocked_at_head=blocked,
    )


def _pair(d: Decision) -> tuple[str, str, bool]:
    """Decisions pair by binding and resource, the gate (allow, deny, error) and the
    warning of one binding apart: a policy may both deny and warn about a resource."""
    return d.binding, d.resource.key, d.outcome is Outcome.WARN


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
