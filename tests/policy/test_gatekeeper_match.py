"""A constraint's `spec.match`, field by field, on cases from Gatekeeper's documented
behaviour (the `match` section of its docs and `pkg/mutation/match`): what each field
selects, objects written without a namespace, Namespaces matched by their own name and
labels, `namespaceSelector` over the repository's Namespace documents, and the problems
a malformed match gets."""

from __future__ import annotations

import json
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.clock import ManualClock
from reconciler.errors import Problem
from reconciler.policy import bundle, evaluate, gatekeeper, gatekeeper_match
from reconciler.policy.bindings import Subject
from reconciler.policy.decisions import Outcome
from tests.policy.conftest import FIXTURES, NO_BUILTINS, documents, make_snapshot


def subject(
    kind: str, *, group: str = "", namespace: str | None = None, name: str = "nginx", **labels: str
) -> Subject:
    return Subject(kind=kind, group=group, namespace=namespace, name=name, labels=labels)


POD = subject("Pod")  # written without metadata.namespace
POD_DEFAULT = subject("Pod", namespace="default")
POD_KUBE = subject("Pod", namespace="kube-system", app="web")
POD_OTHER = subject("Pod", namespace="other")
DEPLOYMENT = subject("Deployment", group="apps", namespace="prod", name="web")
NS_DEFAULT = subject("Namespace", name="default", env="prod")
NS_KUBE = subject("Namespace", name="kube-system")
ROLE = subject("ClusterRole", group="rbac.authorization.k8s.io", name="view")
NAMESPACES = {"default": {"env": "prod"}, "kube-system": {}, "prod": {"env": "prod"}}

POD_KIND = [{"apiGroups": [""], "kinds": ["Pod"]}]

# (what Gatekeeper documents, spec.match, subject, in scope)
TABLE: list[tuple[str, dict[str, Any], Subject, bool]] = [
    ("an empty match selects everything", {}, ROLE, True),
    ("kinds: group and kind both hold", {"kinds": POD_KIND}, POD_DEFAULT, True),
    ("kinds: another kind", {"kinds": POD_KIND}, DEPLOYMENT, False),
    ("kinds: another group", {"kinds": [{"apiGroups": ["apps"], "kinds": ["Pod"]}]}, POD, False),
    ("kinds: * is any group", {"kinds": [{"apiGroups": ["*"], "kinds": ["Deployment"]}]},
     DEPLOYMENT, True),
    ("kinds: no apiGroups is any group", {"kinds": [{"kinds": ["Deployment"]}]}, DEPLOYMENT, True),
    ("kinds: no kinds is any kind of the group", {"kinds": [{"apiGroups": ["apps"]}]},
     DEPLOYMENT, True),
    ("kinds: one entry of several suffices",
     {"kinds": [{"apiGroups": ["apps"], "kinds": ["Deployment"]}, *POD_KIND]}, POD, True),
    ("scope Cluster: a cluster-scoped object", {"scope": "Cluster"}, ROLE, True),
    ("scope Cluster: a Namespace", {"scope": "Cluster"}, NS_DEFAULT, True),
    ("scope Cluster: an object without a namespace", {"scope": "Cluster"}, POD, True),
    ("scope Cluster: a namespaced object", {"scope": "Cluster"}, POD_DEFAULT, False),
    ("scope Namespaced: a namespaced object", {"scope": "Namespaced"}, POD_DEFAULT, True),
    ("scope Namespaced: a Namespace", {"scope": "Namespaced"}, NS_DEFAULT, False),
    ("scope Namespaced: an object without a namespace", {"scope": "Namespaced"}, POD, False),
    ("scope *: both", {"scope": "*"}, ROLE, True),
    ("namespaces: listed", {"namespaces": ["default"]}, POD_DEFAULT, True),
    ("namespaces: not listed", {"namespaces": ["default"]}, POD_KUBE, False),
    ("namespaces: an object without a namespace is not disqualified",
     {"namespaces": ["default"]}, POD, True),
    ("namespaces: nor is a cluster-scoped object", {"namespaces": ["default"]}, ROLE, True),
    ("namespaces: a Namespace by its own name", {"namespaces": ["default"]}, NS_DEFAULT, True),
    ("namespaces: a Namespace not listed", {"namespaces": ["default"]}, NS_KUBE, False),
    ("namespaces: prefix glob", {"namespaces": ["kube-*"]}, POD_KUBE, True),
    ("namespaces: suffix glob", {"namespaces": ["*-system"]}, POD_KUBE, True),
    ("namespaces: glob at both ends is contains", {"namespaces": ["*be-sy*"]}, POD_KUBE, True),
    ("namespaces: a prefix glob is no suffix glob", {"namespaces": ["system*"]}, POD_KUBE, False),
    ("namespaces: no * is an exact name", {"namespaces": ["kube"]}, POD_KUBE, False),
    ("excludedNamespaces: listed", {"excludedNamespaces": ["kube-*"]}, POD_KUBE, False),
    ("excludedNamespaces: not listed", {"excludedNamespaces": ["kube-*"]}, POD_DEFAULT, True),
    ("excludedNamespaces: an object without a namespace is not excluded",
     {"excludedNamespaces": ["default"]}, POD, True),
    ("excludedNamespaces: a Namespace by its own name",
     {"excludedNamespaces": ["kube-*"]}, NS_KUBE, False),
    ("excludedNamespaces wins over namespaces",
     {"namespaces": ["kube-*"], "excludedNamespaces": ["kube-system"]}, POD_KUBE, False),
    ("labelSelector: matchLabels", {"labelSelector": {"matchLabels": {"app": "web"}}},
     POD_KUBE, True),
    ("labelSelector: matchLabels unmet", {"labelSelector": {"matchLabels": {"app": "web"}}},
     POD_DEFAULT, False),
    ("labelSelector: NotIn holds without the label",
     {"labelSelector": {"matchExpressions": [
         {"key": "app", "operator": "NotIn", "values": ["web"]}]}}, POD_DEFAULT, True),
    ("labelSelector: DoesNotExist",
     {"labelSelector": {"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}},
     POD_KUBE, False),
    ("namespaceSelector: the labels of the object's Namespace",
     {"namespaceSelector": {"matchLabels": {"env": "prod"}}}, POD_DEFAULT, True),
    ("namespaceSelector: unmet", {"namespaceSelector": {"matchLabels": {"env": "prod"}}},
     POD_KUBE, False),
    ("namespaceSelector: a Namespace by its own labels",
     {"namespaceSelector": {"matchLabels": {"env": "prod"}}}, NS_DEFAULT, True),
    ("namespaceSelector: a Namespace without them",
     {"namespaceSelector": {"matchLabels": {"env": "prod"}}}, NS_KUBE, False),
    ("namespaceSelector: an object without a namespace matches",
     {"namespaceSelector": {"matchLabels": {"env": "prod"}}}, POD, True),
    ("namespaceSelector: a cluster-scoped object matches",
     {"namespaceSelector": {"matchLabels": {"env": "prod"}}}, ROLE, True),
    ("name: exact", {"name": "nginx"}, POD, True),
    ("name: prefix glob", {"name": "ngi*"}, POD, True),
    ("name: suffix glob", {"name": "*inx"}, POD, True),
    ("name: another name", {"name": "web"}, POD, False),
    ("every field must hold",
     {"kinds": POD_KIND, "namespaces": ["kube-*"], "labelSelector": {"matchLabels": {"app": "x"}}},
     POD_KUBE, False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "who", "expected"), [t[1:] for t in TABLE], ids=[t[0] for t in TABLE]
)
def test_match_as_gatekeeper_documents_it(
    raw: dict[str, Any], who: Subject, expected: bool
) -> None:
    match = gatekeeper_match.parse(raw)
    assert gatekeeper_match.matches(match, who, namespaces=NAMESPACES) is expected


def test_a_namespace_selector_needs_the_namespace_document() -> None:
    match = gatekeeper_match.parse({"namespaceSelector": {"matchLabels": {"env": "prod"}}})
    with pytest.raises(gatekeeper_match.NamespaceNotFound) as raised:
        gatekeeper_match.matches(match, POD_OTHER, namespaces=NAMESPACES)
    assert str(raised.value) == (
        'namespaceSelector: Namespace "other" is not a document of the repository'
    )


def constraint_doc(match: Any) -> str:
    body = {
        "apiVersion": "constraints.gatekeeper.sh/v1beta1",
        "kind": "K8sRequiredLabels",
        "metadata": {"name": "owner"},
        "spec": {"match": match},
    }
    return "# a constraint\n" + json.dumps(body)


FIELDS = (
    "excludedNamespaces, kinds, labelSelector, name, namespaceSelector, namespaces, scope, source"
)
HINT = "must be a name with an optional * at its start or end (kube-*, *-system)"
IN = {"matchExpressions": [{"key": "app", "operator": "In"}]}
EXISTS = {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}
# (spec.match, the problem below `spec.match`)
PROBLEMS: list[tuple[Any, str]] = [
    ({"scope": "cluster"}, ".scope: must be one of *, Cluster, Namespaced, not 'cluster'"),
    ({"source": "Both"}, ".source: must be one of All, Original, Generated, not 'Both'"),
    ({"namespace": ["default"]}, f".namespace: is not a Gatekeeper match field ({FIELDS})"),
    ({"namespaces": ["default", "kube-sys*em"]}, f".namespaces[1]: {HINT}, not 'kube-sys*em'"),
    ({"excludedNamespaces": "kube-system"}, ".excludedNamespaces: must be a list of strings"),
    ({"name": "*"}, f".name: {HINT}, not '*'"),
    ({"kinds": [{"kinds": "Pod"}]}, ".kinds[0].kinds: must be a list of strings"),
    ({"kinds": ["Pod"]}, ".kinds[0]: must be a mapping with apiGroups and kinds"),
    ({"labelSelector": IN}, ".labelSelector.matchExpressions[0].values: must list values (In)"),
    (
        {"namespaceSelector": EXISTS},
        ".namespaceSelector.matchExpressions[0].values: must not list values (Exists)",
    ),
    (
        {"labelSelector": {"matchLabel": {"app": "web"}}},
        ".labelSelector.matchLabel: Extra inputs are not permitted",
    ),
    (["Pod"], ": must be a mapping"),
]


@pytest.mark.parametrize(
    ("match", "message"), PROBLEMS, ids=[p[1].split(":")[0] or "match" for p in PROBLEMS]
)
def test_a_malformed_match_is_a_problem_naming_the_key(match: Any, message: str) -> None:
    [doc] = documents("policies/c.yaml", constraint_doc(match))
    parsed = gatekeeper.parse_constraint(doc)
    assert isinstance(parsed, Problem)
    assert str(parsed) == f"policies/c.yaml:2 spec.match{message}"


LABELS_TEMPLATE = (FIXTURES / "requiredlabels-template.yaml").read_text()


def labels_constraint(match: dict[str, Any], *, name: str = "owner") -> str:
    body = {
        "apiVersion": "constraints.gatekeeper.sh/v1beta1",
        "kind": "K8sRequiredLabels",
        "metadata": {"name": name},
        "spec": {"match": match, "parameters": {"labels": [{"key": "owner"}]}},
    }
    return json.dumps(body)


def pod(name: str, namespace: str | None = None) -> str:
    metadata = {"name": name} if namespace is None else {"name": name, "namespace": namespace}
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": {}})


def namespace(name: str, **labels: str) -> str:
    return json.dumps(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
    )


def evaluated(files: dict[str, str]) -> list[tuple[str, Outcome, tuple[str, ...]]]:
    snapshot = make_snapshot({"policies/template.yaml": LABELS_TEMPLATE, **files})
    compiled = bundle.compile(snapshot, builtin_dir=NO_BUILTINS)
    assert compiled.problems == ()
    evaluator = evaluate.Evaluator(compiled, clock=ManualClock(), revision=None)
    return [(d.resource.key, d.outcome, d.messages) for d in evaluator.evaluate_all(snapshot)]


MISSING = ('you must provide labels: {"owner"}',)


def test_a_pod_without_a_namespace_is_reviewed_by_a_constraint_scoped_to_default() -> None:
    match = {"kinds": POD_KIND, "namespaces": ["default"]}
    files = {
        "policies/c.yaml": labels_constraint(match),
        "resources/a.yaml": pod("bare"),
        "resources/b.yaml": pod("elsewhere", "prod"),
        "resources/c.yaml": pod("there", "default"),
    }
    assert evaluated(files) == [
        ("Pod//bare", Outcome.DENY, MISSING),
        ("Pod/default/there", Outcome.DENY, MISSING),
    ]


def test_namespace_selector_reads_the_namespace_documents_of_the_repository() -> None:
    match = {"kinds": POD_KIND, "namespaceSelector": {"matchLabels": {"env": "prod"}}}
    files = {
        "policies/c.yaml": labels_constraint(match),
        "resources/namespaces.yaml": namespace("shop", env="prod") + "\n---\n" + namespace("lab"),
        "resources/pods.yaml": "\n---\n".join(
            [pod("web", "shop"), pod("probe", "lab"), pod("lost", "gone"), pod("bare")]
        ),
    }
    unknown = 'namespaceSelector: Namespace "gone" is not a document of the repository'
    assert evaluated(files) == [
        ("Pod/shop/web", Outcome.DENY, MISSING),
        ("Pod/gone/lost", Outcome.ERROR, (unknown,)),
        ("Pod//bare", Outcome.DENY, MISSING),
    ]


DEPLOYMENT_DOC = json.dumps(
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": {}}},
    }
)


IMPLIED = "[Implied by expand-deployments] " + MISSING[0]


@pytest.mark.parametrize(
    ("source", "messages"),
    [("All", (IMPLIED, MISSING[0])), ("Original", MISSING), ("Generated", (IMPLIED,))],
)
def test_source_chooses_the_object_or_the_pod_expanded_from_it(
    source: str, messages: tuple[str, ...]
) -> None:
    match = {
        "kinds": [*POD_KIND, {"apiGroups": ["apps"], "kinds": ["Deployment"]}],
        "source": source,
    }
    files = {"policies/c.yaml": labels_constraint(match), "resources/web.yaml": DEPLOYMENT_DOC}
    assert evaluated(files) == [("Deployment/shop/web", Outcome.DENY, messages)]


def test_namespace_labels_are_those_of_core_namespace_documents() -> None:
    docs = [
        *documents("resources/ns.yaml", namespace("shop", env="prod")),
        *documents("resources/pod.yaml", pod("web", "shop")),
        *documents(
            "resources/other.yaml",
            json.dumps(
                {"apiVersion": "example.com/v1", "kind": "Namespace", "metadata": {"name": "x"}}
            ),
        ),
    ]
    assert gatekeeper.namespace_labels(docs) == {"shop": MappingProxyType({"env": "prod"})}


NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", max_size=12)


@given(head=NAMES, middle=NAMES, tail=NAMES)
def test_wildcards_glob_only_at_their_ends(head: str, middle: str, tail: str) -> None:
    name = head + middle + tail
    assert gatekeeper_match.wildcard_matches(name, name)
    assert gatekeeper_match.wildcard_matches(f"{head}*", name)
    assert gatekeeper_match.wildcard_matches(f"*{tail}", name)
    assert gatekeeper_match.wildcard_matches(f"*{middle}*", name)
    if head and tail:  # a * inside a name is no glob
        assert not gatekeeper_match.wildcard_matches(f"{head}*{tail}", name)
