"""Where a policy applies and how strictly: scope matching, exceptions and enforcement.

The same rules decide in the daemon, the CLI and pull-request simulation, so they live
here as pure functions over a `Subject` (the identity of what is checked) and the time a
`Clock` gave the caller. Kinds match `Kind` or `group/Kind`; namespaces and names are
shell globs (`fnmatch`); a cluster-scoped subject (no namespace) never matches a
`namespaces` list and is never excluded by `excludedNamespaces`. An exception applies
while its `expires` is in the future; a gradual binding is advisory before its deadline
and strict at and after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase

from reconciler.policy.decisions import Action, Decision, Outcome, ResourceRef
from reconciler.specs import models
from reconciler.specs.models import Enforcement
from reconciler.specs.snapshot import Document


@dataclass(frozen=True, kw_only=True)
class Subject:
    """What a scope is matched against: a resource, or a Pod expanded from a workload."""

    kind: str
    group: str
    namespace: str | None
    name: str
    labels: Mapping[str, str]

    @classmethod
    def of(cls, doc: Document) -> Subject:
        return cls(
            kind=doc.kind,
            group=doc.group,
            namespace=doc.namespace,
            name=doc.name,
            labels=doc.labels,
        )


def globs_match(patterns: Iterable[str], value: str) -> bool:
    """True when `value` matches any of the shell globs."""
    return any(fnmatchcase(value, p) for p in patterns)


def kind_matches(patterns: Iterable[str], subject: Subject) -> bool:
    """`Deployment`, `apps/Deployment` (core group: `/Service` or `Service`) or a glob."""
    qualified = f"{subject.group}/{subject.kind}"
    return any(fnmatchcase(qualified if "/" in p else subject.kind, p) for p in patterns)


def selector_matches(selector: models.LabelSelector | None, labels: Mapping[str, str]) -> bool:
    """Kubernetes label-selector semantics; no selector matches everything."""
    if selector is None:
        return True
    if any(labels.get(k) != v for k, v in selector.match_labels.items()):
        return False
    return all(_expression_holds(e, labels) for e in selector.match_expressions)


def _expression_holds(expr: models.LabelExpression, labels: Mapping[str, str]) -> bool:
    if expr.operator == "In":
        return labels.get(expr.key) in expr.values
    if expr.operator == "NotIn":
        return expr.key not in labels or labels[expr.key] not in expr.values
    if expr.operator == "Exists":
        return expr.key in labels
    return expr.key not in labels


def namespace_matches(
    *, included: Iterable[str], excluded: Iterable[str], namespace: str | None
) -> bool:
    included, excluded = list(included), list(excluded)
    if namespace is None:
        return not included
    if included and not globs_match(included, namespace):
        return False
    return not globs_match(excluded, namespace)


def scope_matches(scope: models.Scope, subject: Subject) -> bool:
    """Every non-empty part of the scope must hold; an empty scope matches everything."""
    if scope.kinds and not kind_matches(scope.kinds, subject):
        return False
    if (scope.namespaces or scope.excluded_namespaces) and not namespace_matches(
        included=scope.namespaces, excluded=scope.excluded_namespaces, namespace=subject.namespace
    ):
        return False
    if scope.names and not globs_match(scope.names, subject.name):
        return False
    return selector_matches(scope.label_selector, subject.labels)


class ScopeMatcher:
    """`scope_matches` for one scope, with exact kind names looked up in a set."""

    def __init__(self, scope: models.Scope) -> None:
        self.scope = scope
        exact = [k for k in scope.kinds if not any(ch in k for ch in "*?[")]
        self._exact = frozenset(exact) if len(exact) == len(scope.kinds) else None
        self._rest = scope.model_copy(update={"kinds": []}) if self._exact is not None else scope
        self._trivial = self._rest == models.Scope()

    def matches(self, subject: Subject) -> bool:
        if (
            self._exact is not None
            and self._exact
            and not (
                subject.kind in self._exact or f"{subject.group}/{subject.kind}" in self._exact
            )
        ):
            return False
        return self._trivial or scope_matches(self._rest, subject)


@dataclass(frozen=True, kw_only=True)
class ExceptionMatch:
    """The binding exceptions whose scope matched: the one in force, and expired ones."""

    active: models.PolicyException | None
    expired: tuple[models.PolicyException, ...] = ()


def match_exceptions(
    exceptions: Iterable[models.PolicyException], subject: Subject, *, now: datetime
) -> ExceptionMatch:
    """Find the first exception in force for `subject`; list expired ones that matched."""
    expired: list[models.PolicyException] = []
    for exc in exceptions:
        if not scope_matches(exc.match, subject):
            continue
        if exc.expires is not None and exc.expires <= now:
            expired.append(exc)
            continue
        return ExceptionMatch(active=exc, expired=tuple(expired))
    return ExceptionMatch(active=None, expired=tuple(expired))


_NONE = ExceptionMatch(active=None)


def effective_enforcement(spec: models.PolicyBindingSpec, *, now: datetime) -> Enforcement:
    """Gradual becomes advisory before its deadline and strict at or after it."""
    if spec.enforcement is not Enforcement.GRADUAL:
        return spec.enforcement
    assert spec.gradual is not None  # the model refuses gradual without a deadline
    return Enforcement.STRICT if now >= spec.gradual.deadline else Enforcement.ADVISORY


_DENY_ACTIONS = {
    Enforcement.STRICT: Action.BLOCKED,
    Enforcement.ADVISORY: Action.WARNED,
    Enforcement.MONITOR: Action.RECORDED,
}


def action_for(
    outcome: Outcome, enforcement: Enforcement, *, exempted: bool = False, gate: bool = True
) -> Action:
    """What the gate does; `enforcement` must already be effective (not gradual).

    An evaluation error counts as a denial; a warning under monitor is only recorded.
    Outside the gate (`gate=False`: nothing is being changed) a blocking denial is a
    violation: it is reported, and there is nothing to block.
    """
    if exempted:
        return Action.EXEMPTED
    if outcome is Outcome.ALLOW:
        return Action.ALLOWED
    if outcome is Outcome.WARN:
        return Action.RECORDED if enforcement is Enforcement.MONITOR else Action.WARNED
    action = _DENY_ACTIONS[enforcement]
    return Action.VIOLATION if action is Action.BLOCKED and not gate else action


_VERBS = {
    Outcome.ALLOW: "allowed",
    Outcome.DENY: "denied",
    Outcome.WARN: "warned about",
    Outcome.ERROR: "could not evaluate",
}


def gate_clause(
    *, action: Action, declared: Enforcement, effective: Enforcement, deadline: datetime | None
) -> str:
    """Why the gate did what it did, as a clause of the explanation."""
    if action is Action.BLOCKED:
        if declared is Enforcement.GRADUAL:
            return f"gradual enforcement blocks it since its deadline {_iso(deadline)}"
        return "strict enforcement blocks the change"
    if action is Action.VIOLATION:
        if declared is Enforcement.GRADUAL:
            return (
                f"gradual enforcement is strict since its deadline {_iso(deadline)}; "
                "no change was being made, so it is reported as a violation"
            )
        return "strict enforcement; no change was being made, so it is reported as a violation"
    if action is Action.WARNED:
        if declared is Enforcement.GRADUAL and effective is Enforcement.ADVISORY:
            return f"gradual enforcement only warns until {_iso(deadline)}"
        if effective is Enforcement.ADVISORY:
            return "advisory enforcement lets it through with a warning"
        return "a warning does not block"
    if action is Action.RECORDED:
        return "monitor enforcement only records it"
    return ""


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else "?"


def explanation(
    *, policy: str, key: str, outcome: Outcome, findings: int, clauses: Iterable[str]
) -> str:
    """One short sentence: what the policy said, then why the gate acted as it did."""
    head = f"{policy} {_VERBS[outcome]} {key}"
    if outcome in (Outcome.DENY, Outcome.WARN):
        head += f" ({findings} finding{'s' if findings != 1 else ''})"
    elif outcome is Outcome.ERROR:
        head += ", which counts as a denial"
    return "; ".join([head, *(c for c in clauses if c)]) + "."


def decide(
    *,
    name: str,
    policy: str,
    spec: models.PolicyBindingSpec,
    subject: Subject,
    ref: ResourceRef,
    outcome: Outcome,
    messages: tuple[str, ...],
    suppressed: tuple[str, ...],
    digest: str,
    revision: str | None,
    now: datetime,
    gate: bool = True,
) -> Decision:
    """The decision of one binding on one resource, with its action and explanation;
    `gate=False`: made where nothing is being changed (see `action_for`)."""
    if outcome is Outcome.ALLOW and not spec.exceptions and not suppressed:  # kept cheap
        return Decision(
            policy=policy,
            binding=name,
            resource=ref,
            outcome=outcome,
            messages=messages,
            enforcement=spec.enforcement,
            action_taken=Action.ALLOWED,
            revision=revision,
            input_digest=digest,
            at=now,
            explanation=f"{policy} allowed {ref.key}.",
        )
    effective = effective_enforcement(spec, now=now)
    excs = match_exceptions(spec.exceptions, subject, now=now) if spec.exceptions else _NONE
    action = action_for(outcome, effective, exempted=excs.active is not None, gate=gate)
    clauses = [f'exception "{e.name}" expired at {_iso(e.expires)}' for e in excs.expired]
    if suppressed:
        clauses.append(f"the policy's exception rule suppressed {', '.join(suppressed)}")
    if excs.active is not None:
        until = f" until {_iso(excs.active.expires)}" if excs.active.expires else ""
        active = excs.active
        clauses.append(f'exempted by exception "{active.name}" ({active.reason}){until}')
    else:
        deadline = spec.gradual.deadline if spec.gradual else None
        clauses.append(
            gate_clause(
                action=action, declared=spec.enforcement, effective=effective, deadline=deadline
            )
        )
    return Decision(
        policy=policy,
        binding=name,
        resource=ref,
        outcome=outcome,
        messages=messages,
        enforcement=spec.enforcement,
        action_taken=action,
        revision=revision,
        input_digest=digest,
        at=now,
        explanation=explanation(
            policy=policy, key=ref.key, outcome=outcome, findings=len(messages), clauses=clauses
        ),
    )
