"""The Kubernetes guestbook example's manifests (`../shared/fixtures/manifests`, from
kubernetes/examples), as written upstream: they load cleanly, document by document, and the
Gatekeeper templates and conftest policies of `tests/policy` find what they should."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.policy.decisions import Action
from reconciler.specs import loader
from tests import manifests
from tests.policy import test_gatekeeper as gatekeeper
from tests.specs.conftest import MemoryTree

GUESTBOOK = Path("fixtures") / "manifests" / "kubernetes-examples-guestbook"
ALL_IN_ONE = "guestbook-all-in-one.yaml"


@pytest.fixture
def guestbook(shared: Path) -> Path:
    return shared / GUESTBOOK


def test_the_manifests_load_cleanly(guestbook: Path) -> None:
    assert len(manifests.names(guestbook)) == 6
    for name in manifests.names(guestbook):
        data = (guestbook / name).read_bytes()
        snap = loader.load(MemoryTree({f"resources/{name}": data}))
        assert snap.problems == (), name
        expected = data.count(b"\nkind:") + data.startswith(b"kind:")
        assert len(snap.resources) == expected, name
        assert {doc.kind for doc in snap.resources} <= {"Deployment", "Service"}


def test_multi_document_lines_and_trailing_comments(guestbook: Path) -> None:
    data = (guestbook / ALL_IN_ONE).read_text() + "---\n# nothing more\n"
    snap = loader.load(MemoryTree({"resources/all.yaml": data}))
    assert snap.problems == ()
    assert [(doc.index, doc.line, doc.key) for doc in snap.resources[:3]] == [
        (0, 1, "Service//redis-master"),
        (1, 18, "Deployment//redis-master"),
        (2, 46, "Service//redis-replica"),
    ]


LIMITS, LABELS, NO_LABELS = gatekeeper.LIMITS, gatekeeper.LABELS, gatekeeper.NO_LABELS
implied = gatekeeper.implied


def test_gatekeeper_templates_see_the_pods_of_the_deployments(guestbook: Path) -> None:
    decisions = gatekeeper.run({**manifests.texts(guestbook), **gatekeeper.gatekeeper_files()})
    assert gatekeeper.findings(decisions) == [
        ("frontend-deployment.yaml", "Deployment//frontend", LIMITS, implied("php-redis")),
        ("frontend-deployment.yaml", "Deployment//frontend", LABELS, NO_LABELS),
        (ALL_IN_ONE, "Deployment//redis-master", LIMITS, implied("master")),
        (ALL_IN_ONE, "Deployment//redis-master", LABELS, NO_LABELS),
        (ALL_IN_ONE, "Deployment//redis-replica", LIMITS, implied("replica")),
        (ALL_IN_ONE, "Deployment//redis-replica", LABELS, NO_LABELS),
        (ALL_IN_ONE, "Deployment//frontend", LIMITS, implied("php-redis")),
        (ALL_IN_ONE, "Deployment//frontend", LABELS, NO_LABELS),
        ("redis-master-deployment.yaml", "Deployment//redis-master", LIMITS, implied("master")),
        ("redis-master-deployment.yaml", "Deployment//redis-master", LABELS, NO_LABELS),
        ("redis-replica-deployment.yaml", "Deployment//redis-replica", LIMITS, implied("slave")),
        ("redis-replica-deployment.yaml", "Deployment//redis-replica", LABELS, NO_LABELS),
    ]
    services = [d for d in decisions if d.resource.kind == "Service"]
    assert {d.binding for d in services} == {LABELS}  # labelled app/tier: allowed
    assert all(d.action_taken is Action.ALLOWED for d in services)


def test_conftest_policies(guestbook: Path) -> None:
    decisions = gatekeeper.run({**manifests.texts(guestbook), **gatekeeper.CONFTEST_FILES})
    limits, nodeport = gatekeeper.conftest_limits, ("Service frontend uses NodePort",)
    assert gatekeeper.findings(decisions) == [
        (
            "frontend-deployment.yaml",
            "Deployment//frontend",
            "limits",
            limits("frontend", "php-redis"),
        ),
        ("frontend-service.yaml", "Service//frontend", "no-nodeport", nodeport),
        (ALL_IN_ONE, "Deployment//redis-master", "limits", limits("redis-master", "master")),
        (ALL_IN_ONE, "Deployment//redis-replica", "limits", limits("redis-replica", "replica")),
        (ALL_IN_ONE, "Service//frontend", "no-nodeport", nodeport),
        (ALL_IN_ONE, "Deployment//frontend", "limits", limits("frontend", "php-redis")),
        (
            "redis-master-deployment.yaml",
            "Deployment//redis-master",
            "limits",
            limits("redis-master", "master"),
        ),
        (
            "redis-replica-deployment.yaml",
            "Deployment//redis-replica",
            "limits",
            limits("redis-replica", "slave"),
        ),
    ]
    assert len(decisions) == 11  # one decision for each of 6 Deployments and 5 Services
