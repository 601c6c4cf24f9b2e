"""Recorded AdmissionReviews under resources/ are evaluated as the review they record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.clock import ManualClock
from reconciler.policy import bundle, evaluate
from reconciler.source import tree
from reconciler.specs import loader

TEMPLATE = """apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8sseen}
spec:
  crd: {spec: {names: {kind: K8sSeen}}}
  targets:
    - target: admission.k8s.io
      rego: |
        package k8sseen
        violation[{"msg": msg}] {
          old := object.get(input.review, "oldObject", null)
          review := input.review
          msg := sprintf("%v %v old=%v", [review.operation, review.name, old != null])
        }
"""
CONSTRAINT = """apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sSeen
metadata: {name: seen}
spec: {match: {kinds: [{apiGroups: [""], kinds: [Pod]}]}}
"""
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": {}}


def review(operation: str, **parts: object) -> str:
    request = {"operation": operation, **parts}
    return json.dumps(
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    )


@pytest.mark.parametrize(
    ("recorded", "message"),
    [
        (review("CREATE", object=POD), "CREATE web old=false"),
        (review("UPDATE", object=POD, oldObject=POD), "UPDATE web old=true"),
        (review("UPDATE", object=POD), "UPDATE web old=true"),
        (review("DELETE", oldObject=POD), "DELETE web old=true"),
    ],
)
def test_a_recorded_review_is_evaluated_as_its_request(
    tmp_path: Path, recorded: str, message: str
) -> None:
    for name, text in {
        "policies/template.yaml": TEMPLATE,
        "policies/constraint.yaml": CONSTRAINT,
        "resources/review.yaml": recorded,
    }.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    snapshot = loader.load(tree.DirectoryTree(tmp_path))
    assert snapshot.problems == ()
    compiled = bundle.compile(snapshot)
    evaluator = evaluate.Evaluator(compiled, clock=ManualClock(), revision=None)
    [decision] = evaluator.evaluate_all(snapshot)
    assert (decision.resource.key, decision.resource.path, decision.messages) == (
        "Pod//web",
        "resources/review.yaml",
        (message,),
    )


def test_a_review_without_an_object_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "resources").mkdir()
    (tmp_path / "resources" / "review.yaml").write_text(review("CREATE"), encoding="utf-8")
    problems = [str(p) for p in loader.load(tree.DirectoryTree(tmp_path)).problems]
    assert problems == ["resources/review.yaml:1 request.object.metadata.name: required"]
