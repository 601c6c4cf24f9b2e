"""Policy findings outside the gate: what the policies say about documents whose change is
not being gated (kinds no provider manages, evaluated as data; managed objects already in
sync; every object at an audit).

A pass at a new revision evaluates these documents at once, so a strict denial of a
document the daemon does not manage is known when the revision is loaded, not at the next
audit. Such a denial blocks nothing: its decision's action is `violation`. Each violation is
announced once, as a `PolicyViolation` event, when it first appears or says something new.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from reconciler.clock import Clock
from reconciler.events import Bus, Event, EventType
from reconciler.policy import bindings
from reconciler.policy.bundle import Bundle
from reconciler.policy.decisions import Action, Decision
from reconciler.reconcile.revisions import POLICY_INPUTS, Loaded
from reconciler.specs import models
from reconciler.specs.snapshot import Document


def to_check(loaded: Loaded, *, changed: set[str] | None, gated: set[str]) -> list[Document]:
    """The documents of `loaded` to evaluate outside the gate: those of the `changed` files
    and those bound to a binding or policy they changed (every one when that is unknown, or
    when data, settings or shared Rego changed), leaving out the `gated` keys, whose
    decisions the gate made in this pass."""
    docs = loaded.snapshot.resources
    bound = (
        None
        if changed is None
        else _bindings_changed(loaded, {p for p in changed if p.startswith(POLICY_INPUTS)})
    )
    if bound is None:
        return [d for d in docs if d.key not in gated]
    assert changed is not None
    scopes = [bindings.ScopeMatcher(b.spec.scope) for b in bound]
    if not scopes:  # most commits: the documents of the changed files alone
        return [d for d in loaded.snapshot.resources_at(changed) if d.key not in gated]
    return [
        d
        for d in docs
        if d.key not in gated
        and (d.path in changed or any(s.matches(bindings.Subject.of(d)) for s in scopes))
    ]


def _bindings_changed(loaded: Loaded, paths: set[str]) -> list[models.PolicyBinding] | None:
    """The bindings whose own file, or whose policy's Rego, is among `paths`; None when a
    path may change the decisions of any binding (data, settings, Gatekeeper documents, Rego
    other modules read, a file removed)."""
    snapshot, bundle = loaded.snapshot, loaded.bundle
    if not paths:
        return []
    tests = {f.path for f in snapshot.rego if f.is_test}
    in_files = [b for doc, b in snapshot.bindings if doc.path in paths]
    packages = {pkg for pkg, info in bundle.policies.items() if paths.intersection(info.paths)}
    accounted = tests | {doc.path for doc, _ in snapshot.bindings}
    accounted.update(p for pkg in packages for p in bundle.policies[pkg].paths)
    gatekeeper = {d.path for d in (*snapshot.constraint_templates, *snapshot.constraints)}
    if paths - accounted or paths & gatekeeper:
        return None
    if any(_read_elsewhere(bundle, pkg) for pkg in packages):
        return None
    return [*in_files, *(b for _, b in snapshot.bindings if b.spec.policy in packages)]


def _read_elsewhere(bundle: Bundle, package: str) -> bool:
    """Whether a module outside `package` may read it (names it, or reads `data[...]`)."""
    own = set(bundle.policies[package].paths)
    others = [m.text for m in bundle.modules if m.path not in own]
    return any(f"data.{package}" in text or "data[" in text for text in others)


@dataclass(kw_only=True)
class Violations:
    """Evaluates documents outside the gate, logs the decisions, announces violations."""

    source: str
    bus: Bus
    clock: Clock
    log_decisions: Callable[[Iterable[Decision]], int]  # appends what changed, with inputs
    _announced: dict[tuple[str, str], tuple[Any, ...]] = field(default_factory=dict)

    def check(self, decisions: list[Decision], revision: str) -> int:
        """Log and announce the decisions made on documents outside the gate; returns how
        many of the documents violate a policy."""
        self.log_decisions(decisions)
        self._announce(decisions, revision=revision)
        return len({d.resource.key for d in decisions if d.action_taken is Action.VIOLATION})

    def standing(self, keys: set[str]) -> int:
        """How many of the documents at `keys` stand in violation, as last evaluated; the
        violations of documents no longer there are forgotten."""
        for at in [at for at in self._announced if at[1] not in keys]:
            del self._announced[at]
        return len({key for _, key in self._announced})

    def _announce(self, decisions: list[Decision], *, revision: str) -> None:
        for decision in decisions:
            at = (decision.policy, decision.resource.key)
            if decision.action_taken is not Action.VIOLATION:
                self._announced.pop(at, None)
                continue
            gist = (decision.binding, decision.messages, decision.enforcement)
            if self._announced.get(at) == gist:
                continue
            self._announced[at] = gist
            self.bus.publish(event(decision, source=self.source, revision=revision))


def event(decision: Decision, *, source: str, revision: str) -> Event:
    """The `PolicyViolation` event of one decision."""
    said = "; ".join(decision.messages) or decision.explanation
    return Event(
        type=EventType.POLICY_VIOLATION,
        at=decision.at,
        source=source,
        object_key=decision.resource.key,
        message=f"{decision.policy}: {said}",
        data={
            "revision": revision,
            "policy": decision.policy,
            "binding": decision.binding,
            "outcome": decision.outcome.value,
            "enforcement": decision.enforcement.value,
            "action": decision.action_taken.value,
            "messages": list(decision.messages),
            "path": decision.resource.path,
        },
    )
