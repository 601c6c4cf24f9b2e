"""Policies over documents whose change is not gated: known when the revision is loaded,
labelled as violations (nothing was blocked), announced once, logged once."""

from __future__ import annotations

from pathlib import Path

from reconciler.events import EventType
from tests.reconcile.helpers import Harness, MakeHarness, base_files

REPLICAS = """\
package k8s.replicas
import rego.v1

deny contains msg if {
    input.resource.spec.replicas < 2
    meta := input.resource.metadata
    spec := input.resource.spec
    msg := sprintf("%s runs %d replica(s); at least 2", [meta.name, spec.replicas])
}
"""
STRICT_OVER_DEPLOYMENTS = """\
apiVersion: reconciler.dev/v1
kind: PolicyBinding
metadata: {name: enough-replicas}
spec: {policy: k8s.replicas, scope: {kinds: [Deployment]}, enforcement: strict}
"""


def deployment(name: str, *, replicas: int) -> str:
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: shop}}
spec: {{replicas: {replicas}}}
"""


def _harness(make_harness: MakeHarness, out: Path) -> Harness:
    files = base_files(out, names=["a"])
    files["policies/replicas.rego"] = REPLICAS
    files["policies/deployments.yaml"] = STRICT_OVER_DEPLOYMENTS
    h = make_harness(files)
    h.sync()
    return h


def _violations(h: Harness) -> list[tuple[str | None, str, dict[str, object]]]:
    return [
        (e.object_key, e.message, e.data) for e in h.events if e.type is EventType.POLICY_VIOLATION
    ]


def test_an_unmanaged_document_denied_by_a_strict_policy_is_a_violation_at_once(
    make_harness: MakeHarness, out: Path
) -> None:
    h = _harness(make_harness, out)
    assert _violations(h) == []
    sha = h.commit({"resources/web.yaml": deployment("web", replicas=1)})
    result = h.sync(trigger="git")
    assert (h.results(result), result.violations) == ({}, 1)
    message = "k8s.replicas: web runs 1 replica(s); at least 2"
    assert _violations(h) == [
        (
            "Deployment/shop/web",
            message,
            {
                "revision": sha,
                "policy": "k8s.replicas",
                "binding": "enough-replicas",
                "outcome": "deny",
                "enforcement": "strict",
                "action": "violation",
                "messages": ["web runs 1 replica(s); at least 2"],
                "path": "resources/web.yaml",
            },
        )
    ]
    [logged] = h.store.decisions(key="Deployment/shop/web")
    assert (logged.action_taken.value, logged.revision, logged.explanation) == (
        "violation",
        sha,
        "k8s.replicas denied Deployment/shop/web (1 finding); strict enforcement; no change "
        "was being made, so it is reported as a violation.",
    )
    assert h.store.get_inputs([logged.input_digest]) != {}  # kept for replay
    assert [v.resource.key for v in h.store.violations()] == ["Deployment/shop/web"]


def test_a_standing_violation_is_neither_logged_nor_announced_again(
    make_harness: MakeHarness, out: Path
) -> None:
    h = _harness(make_harness, out)
    h.commit({"resources/web.yaml": deployment("web", replicas=1)})
    h.sync()
    assert h.controller is not None and h.loader is not None
    h.commit({"resources/other.yaml": deployment("other", replicas=3)})
    h.sync()
    h.sync()
    assert h.loader.last_good is not None
    assert h.controller.audit(h.loader.last_good) == 1  # audits find it, and log nothing new
    assert h.controller.audit(h.loader.last_good) == 1
    assert len(h.store.decisions(key="Deployment/shop/web")) == 1
    assert len(h.store.decisions(key="Deployment/shop/other")) == 1  # its one allow
    assert [key for key, _, _ in _violations(h)] == ["Deployment/shop/web"]


def test_a_changed_violation_is_announced_and_a_fixed_one_logged(
    make_harness: MakeHarness, out: Path
) -> None:
    h = _harness(make_harness, out)
    h.commit({"resources/web.yaml": deployment("web", replicas=1)})
    h.sync()
    h.commit({"resources/web.yaml": deployment("web", replicas=0)})
    assert h.sync().violations == 1
    fixed = h.commit({"resources/web.yaml": deployment("web", replicas=2)})
    assert h.sync().violations == 0
    assert [m for _, m, _ in _violations(h)] == [
        "k8s.replicas: web runs 1 replica(s); at least 2",
        "k8s.replicas: web runs 0 replica(s); at least 2",
    ]
    logged = h.store.decisions(key="Deployment/shop/web")
    assert [(d.outcome.value, d.action_taken.value) for d in logged] == [
        ("allow", "allowed"),
        ("deny", "violation"),
        ("deny", "violation"),
    ]
    assert (logged[0].revision, h.store.violations()) == (fixed, [])


def test_a_pass_at_the_same_revision_evaluates_nothing_and_counts_what_stands(
    make_harness: MakeHarness, out: Path
) -> None:
    h = _harness(make_harness, out)
    h.commit({"resources/web.yaml": deployment("web", replicas=1)})
    assert h.sync().violations == 1
    inputs = h.store.get_inputs([d.input_digest for d in h.store.decisions()])
    assert h.sync().violations == 1
    assert h.store.get_inputs([d.input_digest for d in h.store.decisions()]) == inputs
    h.commit({}, delete=["resources/web.yaml"])
    assert h.sync().violations == 0
