"""Policy conflicts: contradicting parameters, exceptions a strict binding voids, packages
and rules written twice; found in compiled bundles and reported when a change adds them."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from reconciler.policy import bundle as bundles
from reconciler.policy import conflicts
from reconciler.policy.conflicts import Conflict, ConflictKind
from reconciler.specs import models
from reconciler.specs.snapshot import Document, RegoFile, Snapshot
from tests.simulate.conftest import PullRequest

REPLICAS = """\
package k8s.replicas

import rego.v1

deny contains msg if {
	input.resource.spec.replicas > input.parameters.max
	msg := "too many"
}
"""


def doc(
    kind: str,
    name: str,
    body: dict[str, Any],
    *,
    line: int = 1,
    namespace: str | None = None,
    labels: dict[str, str] | None = None,
) -> Document:
    return Document(
        path=f"{kind.lower()}s/{name}.yaml",
        line=line,
        index=0,
        api_version="apps/v1",
        kind=kind,
        name=name,
        namespace=namespace,
        labels=MappingProxyType(labels or {}),
        body=body,
    )


def binding(name: str, spec: dict[str, Any]) -> tuple[Document, models.PolicyBinding]:
    body = {
        "apiVersion": "reconciler.dev/v1",
        "kind": "PolicyBinding",
        "metadata": {"name": name},
        "spec": spec,
    }
    return (doc("PolicyBinding", name, body), models.PolicyBinding.model_validate(body))


def compiled(
    *bound: tuple[Document, models.PolicyBinding],
    rego: tuple[RegoFile, ...] = (RegoFile(path="policies/replicas.rego", text=REPLICAS),),
) -> bundles.Bundle:
    snap = Snapshot(revision=None, settings=models.default_settings(), bindings=bound, rego=rego)
    return bundles.compile(snap)


def deployment(name: str, namespace: str, **labels: str) -> Document:
    return doc("Deployment", name, {"metadata": {"name": name}}, namespace=namespace, labels=labels)


def test_a_minimum_above_another_bindings_maximum_on_overlapping_scope() -> None:
    found = conflicts.find(
        compiled(
            binding(
                "floor",
                {
                    "policy": "k8s.replicas",
                    "parameters": {"min": 5},
                    "scope": {"kinds": ["Deployment"], "namespaces": ["prod-*"]},
                },
            ),
            binding(
                "cap",
                {
                    "policy": "k8s.replicas",
                    "parameters": {"max": 3},
                    "scope": {"kinds": ["apps/Deployment"]},
                },
            ),
        ),
        resources=[deployment("web", "prod-eu"), deployment("db", "dev")],
    )
    assert found == [
        Conflict(
            kind=ConflictKind.PARAMETERS,
            subjects=("floor", "cap"),
            locations=("policybindings/floor.yaml:1", "policybindings/cap.yaml:1"),
            message="binding floor requires min 5 but binding cap allows at most max 3 on "
            "overlapping scope: no resource in both can satisfy both",
            examples=("Deployment/prod-eu/web",),
        )
    ]


@pytest.mark.parametrize(
    "other_scope",
    [
        {"kinds": ["StatefulSet"]},
        {"namespaces": ["dev"]},
        {"labelSelector": {"matchLabels": {"tier": "db"}}},
    ],
)
def test_disjoint_scopes_do_not_conflict(other_scope: dict[str, Any]) -> None:
    found = conflicts.find(
        compiled(
            binding(
                "floor",
                {
                    "policy": "k8s.replicas",
                    "parameters": {"minReplicas": 5},
                    "scope": {
                        "kinds": ["Deployment"],
                        "namespaces": ["prod"],
                        "labelSelector": {"matchLabels": {"tier": "web"}},
                    },
                },
            ),
            binding(
                "cap",
                {"policy": "k8s.replicas", "parameters": {"maxReplicas": 3}, "scope": other_scope},
            ),
        )
    )
    assert found == []


def test_a_binding_contradicting_itself() -> None:
    found = conflicts.find(
        compiled(
            binding("bounds", {"policy": "k8s.replicas", "parameters": {"min": 4, "max": 2.5}})
        )
    )
    assert [c.message for c in found] == [
        "binding bounds requires min 4 but allows at most max 2.5: no resource can satisfy it"
    ]


def test_an_exception_a_strict_binding_of_the_same_policy_voids() -> None:
    found = conflicts.find(
        compiled(
            binding(
                "enforce",
                {
                    "policy": "k8s.replicas",
                    "enforcement": "strict",
                    "scope": {"kinds": ["Deployment"]},
                },
            ),
            binding(
                "relaxed",
                {
                    "policy": "k8s.replicas",
                    "enforcement": "advisory",
                    "exceptions": [
                        {
                            "name": "batch",
                            "reason": "batch jobs scale down",
                            "match": {"namespaces": ["batch"]},
                        }
                    ],
                },
            ),
        )
    )
    assert [(c.kind, c.subjects, c.message) for c in found] == [
        (
            ConflictKind.STRICT_VS_EXCEPTION,
            ("relaxed", "enforce"),
            'exception "batch" of binding relaxed exempts resources from k8s.replicas, but strict '
            "binding enforce enforces the same policy on them without that exception: it has no "
            "effect",
        )
    ]


def test_the_same_exception_on_both_bindings_is_no_conflict() -> None:
    exception = {"name": "batch", "reason": "r", "match": {"namespaces": ["batch"]}}
    found = conflicts.find(
        compiled(
            binding("enforce", {"policy": "k8s.replicas", "exceptions": [exception]}),
            binding(
                "relaxed",
                {"policy": "k8s.replicas", "enforcement": "advisory", "exceptions": [exception]},
            ),
        )
    )
    assert found == []


def test_a_package_and_a_rule_written_in_two_files() -> None:
    found = conflicts.find(
        compiled(
            rego=(
                RegoFile(path="policies/a.rego", text=REPLICAS),
                RegoFile(path="policies/b.rego", text=REPLICAS.replace("too many", "way too many")),
            )
        )
    )
    assert [(c.kind, c.subjects, c.locations, c.message) for c in found] == [
        (
            ConflictKind.DUPLICATE_PACKAGE,
            ("k8s.replicas",),
            ("policies/a.rego", "policies/b.rego"),
            "package k8s.replicas is declared in 2 files (policies/a.rego, policies/b.rego): "
            "their rules merge into one policy",
        ),
        (
            ConflictKind.DUPLICATE_RULE,
            ("k8s.replicas.deny",),
            ("policies/a.rego", "policies/b.rego"),
            "rule deny of package k8s.replicas is written in policies/a.rego, policies/b.rego: "
            "a finding of either denies",
        ),
    ]


def test_a_pull_request_adding_a_conflict_reports_only_the_new_one(pr: PullRequest) -> None:
    pr.change(
        {
            "policies/cap.yaml": (
                "apiVersion: reconciler.dev/v1\nkind: PolicyBinding\n"
                "metadata: {name: replica-cap}\nspec:\n  policy: k8s.replicas\n"
                "  scope: {kinds: [Deployment]}\n"
                "  enforcement: advisory\n  parameters: {max: 1}\n"
            )
        }
    )
    report = pr.simulate()
    assert [(c.kind, c.subjects, c.examples) for c in report.conflicts] == [
        (
            "parameters",
            ("replica-bounds", "replica-cap"),
            ("Deployment/payments/payments-api", "Deployment/storefront/storefront-web"),
        ),
    ]
    assert report.conflicts[0].locations == ("policies/bindings.yaml:66", "policies/cap.yaml:1")
    assert not report.blocked  # conflicts warn, they do not block
    assert report.warnings >= 1
