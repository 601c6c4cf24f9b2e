"""Gatekeeper `ConstraintTemplate`s and constraints, run the way Gatekeeper runs them.

Existing Gatekeeper policy libraries must work unchanged, so templates keep their Rego
exactly as written, in either format (`gatekeeper_rego`: v0 unless a code entry says
`version: v1`, `input.review.object`, `input.parameters`, libs under `data.lib.*`) and
constraints keep their `spec.match` (applied as Gatekeeper's matcher does, see
`gatekeeper_match`), `spec.parameters` and `spec.enforcementAction` (deny -> strict,
warn -> advisory, dryrun -> monitor); a constraint without one takes the repository's
`defaultEnforcement` (Gatekeeper's own default, deny, unless `reconciler.yaml` says otherwise).

Workload expansion follows Gatekeeper's `ExpansionTemplate`s: a constraint matching
`Pod` (apiGroups `""` or `*`) also reviews the Pod a workload would create, built from
its pod template (`spec.template`, or `spec.jobTemplate.spec.template` for a CronJob) in
the workload's namespace. Such violations are reported on the workload, prefixed with
`[Implied by expand-deployments] ` (`expand-cronjobs` for CronJobs), the name of the
expansion template Gatekeeper's documentation installs. `match.source` chooses between the
object itself (`Original`), the expanded Pod (`Generated`) or both (`All`, the default).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reconciler.errors import Problem
from reconciler.policy import bindings, gatekeeper_match, gatekeeper_rego
from reconciler.policy.decisions import Decision, Outcome, ResourceRef
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


@dataclass(frozen=True, kw_only=True)
class Template:
    """One ConstraintTemplate: the constraint kind it defines and its Rego."""

    kind: str
    doc: Document
    source: gatekeeper_rego.RegoSource

    @property
    def package(self) -> str:
        """The Rego's package, without `data.`."""
        return self.source.package


@dataclass(frozen=True, kw_only=True)
class Constraint:
    kind: str
    name: str
    doc: Document
    match: gatekeeper_match.Match
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


def declared_kind(doc: Document) -> str | None:
    """The constraint kind a template declares (`spec.crd.spec.names.kind`), if any."""
    spec = doc.body.get("spec") or {}
    kind = (((spec.get("crd") or {}).get("spec") or {}).get("names") or {}).get("kind")
    return kind if isinstance(kind, str) and kind else None


def parse_template(doc: Document) -> Template | Problem:
    """Read kind, Rego and libs from the first target; a Problem names what is missing."""
    spec = doc.body.get("spec") or {}
    kind = declared_kind(doc)
    if kind is None:
        return _problem(doc, "spec.crd.spec.names.kind", "is required")
    targets = spec.get("targets") or []
    target = targets[0] if isinstance(targets, list) and targets else None
    if not isinstance(target, dict):
        return _problem(doc, "spec.targets", "must hold a target with Rego")
    found = gatekeeper_rego.rego_of(target, where="spec.targets[0]")
    if isinstance(found, gatekeeper_rego.Invalid):
        return _problem(doc, found.key, found.message)
    return Template(kind=kind, doc=doc, source=found)


def enforcement_action(doc: Document, *, default: Enforcement = Enforcement.STRICT) -> Any:
    """A constraint's `spec.enforcementAction` as written, else the action of the repository's
    default enforcement (Gatekeeper's own default, `deny`, when it sets none).
    `ENFORCEMENT_ACTIONS` maps it to the enforcement its decisions are made and shown with."""
    spec = doc.body.get("spec") or {}
    if "enforcementAction" in spec:
        return spec["enforcementAction"]
    return next(a for a, e in ENFORCEMENT_ACTIONS.items() if e is default)


def parse_constraint(
    doc: Document, *, default: Enforcement = Enforcement.STRICT
) -> Constraint | Problem:
    spec = doc.body.get("spec") or {}
    action = enforcement_action(doc, default=default)
    if action not in ENFORCEMENT_ACTIONS:
        allowed = ", ".join(ENFORCEMENT_ACTIONS)
        return _problem(doc, "spec.enforcementAction", f"must be one of {allowed}, not {action!r}")
    try:
        match = gatekeeper_match.parse(spec.get("match") or {})
    except gatekeeper_match.MatchProblem as exc:
        return _problem(doc, f"spec.match{exc.key}", exc.message)
    return Constraint(
        kind=doc.kind,
        name=doc.name,
        doc=doc,
        match=match,
        parameters=spec.get("parameters", {}),
        enforcement=ENFORCEMENT_ACTIONS[action],
    )


def _problem(doc: Document, key: str, message: str) -> Problem:
    return Problem(path=doc.path, line=doc.line, key=key, message=message)


def namespace_labels(resources: Iterable[Document]) -> dict[str, Mapping[str, str]]:
    """The labels of every Namespace document, by name (what `namespaceSelector` reads)."""
    return {d.name: d.labels for d in resources if d.kind == "Namespace" and d.group == ""}


def reads_inventory(templates: Iterable[Template]) -> bool:
    """Whether any template's Rego or libs refer to `data.inventory`."""
    return any(
        "data.inventory" in text
        for t in templates
        for text in (t.source.rego, *(lib for _, lib in t.source.libs))
    )


def inventory(resources: Iterable[Document]) -> dict[str, Any]:
    """Gatekeeper's `data.inventory` over the repository's resources, laid out as it lays
    out synced objects: `namespace[ns][apiVersion][kind][name]` for objects with a
    namespace, `cluster[apiVersion][kind][name]` for the others."""
    cluster: dict[str, Any] = {}
    namespaced: dict[str, Any] = {}
    for doc in resources:
        where = namespaced.setdefault(doc.namespace, {}) if doc.namespace else cluster
        where.setdefault(doc.api_version, {}).setdefault(doc.kind, {})[doc.name] = doc.body
    return {"cluster": cluster, "namespace": namespaced}


@dataclass(frozen=True, kw_only=True)
class Review:
    """One review a constraint asks for: of the object itself (`expansion` None) or of the
    Pod expanded from it; `error` when matching could not be decided."""

    prefix: str
    expansion: Expansion | None = None
    error: str | None = None


def reviews(
    constraint: Constraint,
    *,
    subject: bindings.Subject,
    expansion: Expansion | None,
    namespaces: Mapping[str, Mapping[str, str]],
) -> list[Review]:
    """The reviews `constraint` makes of a resource, by its `spec.match` (and `source`)."""
    match = constraint.match
    candidates: list[tuple[str, bindings.Subject, Expansion | None]] = []
    if match.source is not gatekeeper_match.Source.GENERATED:
        candidates.append(("", subject, None))
    if expansion is not None and match.source is not gatekeeper_match.Source.ORIGINAL:
        candidates.append((expansion.prefix, expansion.subject, expansion))
    out: list[Review] = []
    for prefix, who, expanded in candidates:
        try:
            if gatekeeper_match.matches(match, who, namespaces=namespaces):
                out.append(Review(prefix=prefix, expansion=expanded))
        except gatekeeper_match.NamespaceNotFound as exc:
            out.append(Review(prefix=prefix, expansion=expanded, error=str(exc)))
    return out


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
