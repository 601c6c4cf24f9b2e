"""The policies each source's served revision enforces, as rows of the Policies page.

A row is a `PolicyBinding` or a Gatekeeper constraint. Both say where they apply and how
strictly, in words: scopes and `spec.match` as kinds, namespaces, names and label
selectors, not as the records they are parsed into. A constraint's enforcement is the one
`gatekeeper.parse_constraint` reads from its `enforcementAction`, the very value its
decisions are logged with, so this page and the decision log always agree; a gradual
binding (logged as gradual) also says what it does now and until when.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from reconciler.policy import bindings, gatekeeper, gatekeeper_match
from reconciler.reconcile.revisions import Loaded
from reconciler.specs import models
from reconciler.specs.models import Enforcement

EVERYTHING = "everything"


def rows(loaded: Mapping[str, Loaded | None], *, now: datetime) -> list[dict[str, Any]]:
    """One row per binding and constraint of every source's served revision."""
    found: list[dict[str, Any]] = []
    for source, revision in loaded.items():
        if revision is None:
            continue
        found += [binding_row(source, b, now=now) for _, b in revision.snapshot.bindings]
        found += [constraint_row(source, c) for c in revision.bundle.constraints]
    return found


def binding_row(source: str, binding: models.PolicyBinding, *, now: datetime) -> dict[str, Any]:
    spec = binding.spec
    note, deadline = binding_note(spec, now=now)
    return {
        "source": source,
        "name": binding.metadata.name,
        "binding": binding.metadata.name,
        "policy": spec.policy,
        "enforcement": str(spec.enforcement),
        "enforcementNote": note,
        "deadline": deadline,
        "input": str(spec.input),
        "scope": scope_text(spec.scope),
        "exceptions": len(spec.exceptions),
    }


def binding_note(spec: models.PolicyBindingSpec, *, now: datetime) -> tuple[str, str | None]:
    """What a gradual binding does now, and its deadline (shown as a time)."""
    if spec.enforcement is not Enforcement.GRADUAL or spec.gradual is None:
        return "", None
    deadline = spec.gradual.deadline.isoformat()
    if bindings.effective_enforcement(spec, now=now) is Enforcement.STRICT:
        return "strict since", deadline
    return "advisory until", deadline


def constraint_row(source: str, constraint: gatekeeper.Constraint) -> dict[str, Any]:
    action = gatekeeper.enforcement_action(constraint.doc, default=constraint.enforcement)
    return {
        "source": source,
        "name": constraint.name,
        "binding": constraint.id,
        "policy": constraint.kind,
        "enforcement": str(constraint.enforcement),
        "enforcementNote": f"Gatekeeper enforcementAction: {action}",
        "deadline": None,
        "input": "gatekeeper",
        "scope": match_text(constraint.match),
        "exceptions": 0,
    }


def scope_text(scope: models.Scope) -> str:
    parts = [
        _listed("kinds", scope.kinds),
        _listed("namespaces", scope.namespaces),
        _listed("not in namespaces", scope.excluded_namespaces),
        _listed("names", scope.names),
        _labelled(scope.label_selector),
    ]
    return "; ".join(p for p in parts if p) or EVERYTHING


def match_text(match: gatekeeper_match.Match) -> str:
    kinds = [
        _group_kind(group, kind)
        for k in match.kinds
        for group in k.groups or ("*",)
        for kind in k.kinds or ("*",)
    ]
    parts = [
        _listed("kinds", kinds),
        "" if match.scope is gatekeeper_match.Scope.ALL else f"{match.scope.lower()} objects only",
        _listed("namespaces", match.namespaces),
        _listed("not in namespaces", match.excluded_namespaces),
        f"name {match.name}" if match.name else "",
        _labelled(match.label_selector),
        _labelled(match.namespace_selector, what="namespaces labelled"),
    ]
    return "; ".join(p for p in parts if p) or EVERYTHING


def selector_text(selector: models.LabelSelector) -> str:
    """A label selector as `kubectl get -l` would take it: `app=web, tier in (a, b), !old`."""
    terms = [f"{k}={v}" for k, v in sorted(selector.match_labels.items())]
    for e in selector.match_expressions:
        values = ", ".join(e.values)
        terms.append(
            {
                "In": f"{e.key} in ({values})",
                "NotIn": f"{e.key} notin ({values})",
                "Exists": e.key,
            }.get(e.operator, f"!{e.key}")
        )
    return ", ".join(terms)


def _group_kind(group: str, kind: str) -> str:
    if group in ("", "*"):
        return kind
    return f"{group}/{kind}"


def _listed(label: str, values: Iterable[str]) -> str:
    found = list(dict.fromkeys(values))
    return f"{label} {', '.join(found)}" if found else ""


def _labelled(selector: models.LabelSelector | None, *, what: str = "labels") -> str:
    text = selector_text(selector) if selector is not None else ""
    return f"{what} {text}" if text else ""
