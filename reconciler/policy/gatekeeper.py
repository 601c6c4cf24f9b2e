"""Gatekeeper `ConstraintTemplate`s and constraints, run the way Gatekeeper runs them.

Existing Gatekeeper policy libraries must work unchanged, so templates keep their Rego
exactly as written (v0 syntax, `input.review.object`, `input.parameters`, libs under
`data.lib.*`) and constraints keep their `spec.match`, `spec.parameters` and
`spec.enforcementAction` (deny -> strict, warn -> advisory, dryrun -> monitor).

Workload expansion follows Gatekeeper's `ExpansionTemplate`s: a constraint matching
`Pod` (apiGroups `""` or `*`) also reviews the Pod a workload would create, built from
its pod template (`spec.template`, or `spec.jobTemplate.spec.template` for a CronJob) in
the workload's namespace. Such violations are reported on the workload, prefixed with
`[Implied by expand-deployments] ` (`expand-cronjobs` for CronJobs), the name of the
expansion template Gatekeeper's documentation installs. `namespaceSelector` is not
evaluated (there are no live Namespace objects to read labels from): it is ignored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from reconciler.errors import Problem
from reconciler.policy import bindings
from reconciler.policy.decisions import Decision, Outcome, ResourceRef
from reconciler.specs import models
from reconciler.specs.models import Enforcement
from reconciler.specs.snapshot import Document

TEMPLATE_API_VERSIONS = ("templates.gatekeeper.sh/v1", "templates.gatekeeper.sh/v1beta1")
CONSTRAINT_GROUP = "constraints.gatekeeper.sh"
ENFORCEMENT_ACTIONS = {
    "deny": Enforcement.STRICT,
    "warn": Enforcement.ADVISORY,
    "dryrun": Enforcement.MONITOR,
}
_WORKLOADS = {
    ("apps", "Deployment"): "expand-deployments",
    ("apps", "StatefulSet"): "expand-deployments",
    ("apps", "DaemonSet"): "expand-deployments",
    ("apps", "ReplicaSet"): "expand-deployments",
    ("batch", "Job"): "expand-deployments",
    ("", "ReplicationController"): "expand-deployments",
    ("batch", "CronJob"): "expand-cronjobs",
}
_PACKAGE = re.compile(r"^\s*package\s+([\w.]+)", re.MULTILINE)


@dataclass(frozen=True, kw_only=True)
class Template:
    """One ConstraintTemplate: the constraint kind it defines and its Rego."""

    kind: str
    package: str  # without `data.`
    doc: Document
    rego: str
    libs: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Match:
    """A constraint's `spec.match`; empty fields match everything."""

    kinds: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = ()  # (apiGroups, kinds)
    scope: str = "*"
    namespaces: tuple[str, ...] = ()
    excluded_namespaces: tuple[str, ...] = ()
    name: str | None = None
    label_selector: models.LabelSelector | None = None


@dataclass(frozen=True, kw_only=True)
class Constraint:
    kind: str
    name: str
    doc: Document
    match: Match
    parameters: Any
    enforcement: Enforcement

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True, kw_only=True)
class Expansion:
    """A Pod built from a workload's pod template, and the message prefix it implies."""

    subject: bindings.Subject
    body: dict[str, Any]
    prefix: str


def is_template(doc: Document) -> bool:
    return doc.kind == "ConstraintTemplate" and doc.api_version in TEMPLATE_API_VERSIONS


def is_constraint(doc: Document) -> bool:
    return doc.group == CONSTRAINT_GROUP


def parse_template(doc: Document) -> Template | Problem:
    """Read kind, Rego and libs from the first target; a Problem names what is missing."""
    spec = doc.body.get("spec") or {}
    kind = (((spec.get("crd") or {}).get("spec") or {}).get("names") or {}).get("kind")
    if not isinstance(kind, str) or not kind:
        return _problem(doc, "spec.crd.spec.names.kind", "is required")
    targets = spec.get("targets") or []
    target = targets[0] if isinstance(targets, list) and targets else {}
    rego = target.get("rego") if isinstance(target, dict) else None
    if not isinstance(rego, str) or not (found := _PACKAGE.search(rego)):
        return _problem(doc, "spec.targets[0].rego", "must be a Rego module with a package")
    libs = target.get("libs") or []
    if not isinstance(libs, list) or not all(isinstance(x, str) for x in libs):
        return _problem(doc, "spec.targets[0].libs", "must be a list of Rego modules")
    return Template(kind=kind, package=found.group(1), doc=doc, rego=rego, libs=tuple(libs))


def parse_constraint(doc: Document) -> Constraint | Problem:
    spec = doc.body.get("spec") or {}
    action = spec.get("enforcementAction", "deny")
    if action not in ENFORCEMENT_ACTIONS:
        allowed = ", ".join(ENFORCEMENT_ACTIONS)
        return _problem(doc, "spec.enforcementAction", f"must be one of {allowed}, not {action!r}")
    try:
        match = _parse_match(spec.get("match") or {})
    except (ValidationError, TypeError, AttributeError):
        return _problem(doc, "spec.match", "is not a valid Gatekeeper match")
    return Constraint(
        kind=doc.kind,
        name=doc.name,
        doc=doc,
        match=match,
        parameters=spec.get("parameters", {}),
        enforcement=ENFORCEMENT_ACTIONS[action],
    )


def _parse_match(raw: dict[str, Any]) -> Match:
    selector = raw.get("labelSelector")
    return Match(
        kinds=tuple(
            (tuple(k.get("apiGroups") or ["*"]), tuple(k.get("kinds") or ["*"]))
            for k in raw.get("kinds") or []
        ),
        scope=raw.get("scope", "*"),
        namespaces=tuple(raw.get("namespaces") or ()),
        excluded_namespaces=tuple(raw.get("excludedNamespaces") or ()),
        name=raw.get("name"),
        label_selector=models.LabelSelector.model_validate(selector) if selector else None,
    )


def _problem(doc: Document, key: str, message: str) -> Problem:
    return Problem(path=doc.path, line=doc.line, key=key, message=message)


def _kind_matches(match: Match, subject: bindings.Subject) -> bool:
    if not match.kinds:
        return True
    return any(
        ("*" in groups or subject.group in groups) and ("*" in kinds or subject.kind in kinds)
        for groups, kinds in match.kinds
    )


def matches(match: Match, subject: bindings.Subject) -> bool:
    """Gatekeeper match semantics (namespace globs, `name` glob, label selector)."""
    if not _kind_matches(match, subject):
        return False
    if match.scope == "Cluster" and subject.namespace is not None:
        return False
    if match.scope == "Namespaced" and subject.namespace is None:
        return False
    if (match.namespaces or match.excluded_namespaces) and not bindings.namespace_matches(
        included=match.namespaces, excluded=match.excluded_namespaces, namespace=subject.namespace
    ):
        return False
    if match.name is not None and not bindings.globs_match([match.name], subject.name):
        return False
    return bindings.selector_matches(match.label_selector, subject.labels)


def expand(doc: Document) -> Expansion | None:
    """The mock Pod a workload creates, or None for anything that is not a workload."""
    prefix = _WORKLOADS.get((doc.group, doc.kind))
    if prefix is None:
        return None
    spec = doc.body.get("spec") or {}
    if doc.kind == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    template = spec.get("template")
    if not isinstance(template, dict):
        return None
    metadata = dict(template.get("metadata") or {})
    if doc.namespace is not None:
        metadata["namespace"] = doc.namespace
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template.get("spec")}
    labels = metadata.get("labels") or {}
    subject = bindings.Subject(
        kind="Pod", group="", namespace=doc.namespace, name=doc.name, labels=labels
    )
    return Expansion(subject=subject, body=pod, prefix=f"[Implied by {prefix}] ")


def review_kind(api_version: str, kind: str) -> dict[str, str]:
    group, _, version = api_version.rpartition("/")
    return {"group": group, "version": version, "kind": kind}


def decide(
    *,
    constraint: Constraint,
    ref: ResourceRef,
    verdicts: Sequence[tuple[str, Outcome, Sequence[str]]],
    digest: str,
    revision: str | None,
    now: datetime,
    gate: bool = True,
) -> Decision:
    """One decision per constraint and resource; `verdicts` are (message prefix, outcome,
    messages) for the resource itself and for the Pod expanded from it. `gate=False`:
    made where nothing is being changed (see `bindings.action_for`)."""
    outcomes = {outcome for _, outcome, _ in verdicts}
    outcome = next((o for o in _SEVERITY if o in outcomes), Outcome.ALLOW)
    messages = tuple(sorted(prefix + m for prefix, _, found in verdicts for m in found))
    action = bindings.action_for(outcome, constraint.enforcement, gate=gate)
    clause = bindings.gate_clause(
        action=action,
        declared=constraint.enforcement,
        effective=constraint.enforcement,
        deadline=None,
    )
    return Decision(
        policy=constraint.kind,
        binding=constraint.id,
        resource=ref,
        outcome=outcome,
        messages=messages,
        enforcement=constraint.enforcement,
        action_taken=action,
        revision=revision,
        input_digest=digest,
        at=now,
        explanation=bindings.explanation(
            policy=constraint.id,
            key=ref.key,
            outcome=outcome,
            findings=len(messages),
            clauses=[clause],
        ),
    )


_SEVERITY = (Outcome.ERROR, Outcome.DENY, Outcome.WARN)
