"""Gatekeeper templates and conftest policies over Kubernetes manifests written for the tests
(`tests/fixtures/manifests/bookshop`); `tests/external/test_guestbook.py` runs them over the
kubernetes/examples guestbook."""

from __future__ import annotations

import json

from reconciler.clock import ManualClock
from reconciler.policy import bundle, evaluate
from reconciler.policy.decisions import Action, Decision, Outcome
from reconciler.specs import loader
from reconciler.specs.models import Enforcement
from tests import manifests
from tests.policy.conftest import FIXTURES, NO_BUILTINS, make_snapshot
from tests.specs.conftest import MemoryTree


def gatekeeper_files() -> dict[str, str]:
    return {f"policies/{p.name}": p.read_text() for p in sorted(FIXTURES.glob("*.yaml"))}


def run(files: dict[str, str]) -> list[Decision]:
    snapshot = make_snapshot(files)
    compiled = bundle.compile(snapshot, builtin_dir=NO_BUILTINS)
    assert compiled.problems == ()
    return evaluate.Evaluator(compiled, clock=ManualClock(), revision=None).evaluate_all(snapshot)


def findings(decisions: list[Decision]) -> list[tuple[str, str, str, tuple[str, ...]]]:
    return [
        (d.resource.path.removeprefix("resources/"), d.resource.key, d.binding, d.messages)
        for d in decisions
        if d.outcome is not Outcome.ALLOW
    ]


LIMITS = "K8sContainerLimits/container-must-have-limits"
LABELS = "K8sRequiredLabels/all-must-have-app-and-tier"
NO_LABELS = ('you must provide labels: {"app", "tier"}',)
CACHE_TIER = "Label <tier: cache> does not satisfy allowed regex: ^(frontend|backend)$"
WEB = "resources/web-deployment.yaml"


def implied(container: str) -> tuple[str, ...]:
    return (f"[Implied by expand-deployments] container <{container}> has no resource limits",)


def test_gatekeeper_templates_see_the_pods_of_the_deployments() -> None:
    decisions = run({**manifests.texts(), **gatekeeper_files()})
    all_in_one = manifests.ALL_IN_ONE
    assert findings(decisions) == [
        (all_in_one, "Service//cache", LABELS, (CACHE_TIER,)),
        (all_in_one, "Deployment//cache", LIMITS, implied("redis")),
        (all_in_one, "Deployment//cache", LABELS, NO_LABELS),
        (all_in_one, "Deployment//catalog", LIMITS, implied("catalog-api")),
        (all_in_one, "Deployment//catalog", LABELS, NO_LABELS),
        (all_in_one, "Deployment//web", LIMITS, implied("storefront")),
        (all_in_one, "Deployment//web", LABELS, NO_LABELS),
        ("cache-deployment.yaml", "Deployment//cache", LIMITS, implied("valkey")),
        ("cache-deployment.yaml", "Deployment//cache", LABELS, NO_LABELS),
        ("catalog-deployment.yaml", "Deployment//catalog", LIMITS, implied("api")),
        ("catalog-deployment.yaml", "Deployment//catalog", LABELS, NO_LABELS),
        ("web-deployment.yaml", "Deployment//web", LIMITS, implied("storefront")),
        ("web-deployment.yaml", "Deployment//web", LABELS, NO_LABELS),
    ]
    services = [d for d in decisions if d.resource.kind == "Service"]
    assert {d.binding for d in services} == {LABELS}
    allowed = [d.resource.key for d in services if d.action_taken is Action.ALLOWED]
    assert allowed == ["Service//catalog", "Service//web"] * 2  # labelled app and tier
    limits = next(d for d in decisions if d.binding == LIMITS)
    assert (limits.enforcement, limits.action_taken) == (Enforcement.STRICT, Action.BLOCKED)
    labels = next(d for d in decisions if d.binding == LABELS and d.resource.path == WEB)
    assert (labels.enforcement, labels.action_taken) == (Enforcement.ADVISORY, Action.WARNED)
    assert labels.explanation == (
        f"{LABELS} denied Deployment//web (1 finding);"
        " advisory enforcement lets it through with a warning."
    )


def constraint(kind: str, name: str, **spec: object) -> str:
    body = {
        "apiVersion": "constraints.gatekeeper.sh/v1beta1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    }
    return json.dumps(body)


CRONJOB = """\
apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: batch}
spec:
  schedule: "0 1 * * *"
  jobTemplate:
    spec:
      template:
        metadata: {labels: {app: report}}
        spec:
          containers: [{name: run, image: report:v1, resources: {limits: {cpu: "1"}}}]
"""


def test_cronjob_expansion_match_and_dryrun() -> None:
    files = {
        "policies/containerlimits-template.yaml": (
            FIXTURES / "containerlimits-template.yaml"
        ).read_text(),
        "policies/c.yaml": constraint(
            "K8sContainerLimits",
            "dry",
            enforcementAction="dryrun",
            match={
                "kinds": [{"apiGroups": [""], "kinds": ["Pod"]}],
                "namespaces": ["bat*"],
                "labelSelector": {"matchLabels": {"app": "report"}},
            },
        )
        + "\n---\n"
        + constraint(
            "K8sContainerLimits",
            "elsewhere",
            match={"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}], "namespaces": ["prod"]},
        ),
        "resources/cron.yaml": CRONJOB,
    }
    [decision] = run(files)
    assert decision.binding == "K8sContainerLimits/dry"
    assert decision.resource.key == "CronJob/batch/report"
    assert decision.messages == (
        "[Implied by expand-cronjobs] container <run> has no memory limit",
    )
    assert (decision.enforcement, decision.action_taken) == (Enforcement.MONITOR, Action.RECORDED)


NODEPORT = """\
package k8s.services
import rego.v1

deny contains msg if {
  input.kind == "Service"
  input.spec.type == "NodePort"
  msg := sprintf("Service %s uses NodePort", [input.metadata.name])
}
"""
LIMITS_CONFTEST = """\
package k8s.limits

deny[msg] {
  input.kind == "Deployment"
  container := input.spec.template.spec.containers[_]
  not container.resources.limits
  msg := sprintf("Deployment %s: container %s has no resource limits", [
    input.metadata.name, container.name,
  ])
}
"""
BINDINGS = """\
apiVersion: reconciler.dev/v1
kind: PolicyBinding
metadata: {name: no-nodeport}
spec: {policy: k8s.services, input: conftest, scope: {kinds: [Service]}}
---
apiVersion: reconciler.dev/v1
kind: PolicyBinding
metadata: {name: limits}
spec:
  policy: k8s.limits
  input: conftest
  scope: {kinds: [apps/Deployment]}
  enforcement: advisory
"""


CONFTEST_FILES = {
    "policies/services.rego": NODEPORT,
    "policies/limits.rego": LIMITS_CONFTEST,
    "policies/bindings.yaml": BINDINGS,
}


def conftest_limits(name: str, container: str) -> tuple[str, ...]:
    return (f"Deployment {name}: container {container} has no resource limits",)


def test_conftest_policies_on_the_manifests() -> None:
    decisions = run({**manifests.texts(), **CONFTEST_FILES})
    all_in_one, nodeport = manifests.ALL_IN_ONE, ("Service web uses NodePort",)
    assert findings(decisions) == [
        (all_in_one, "Deployment//cache", "limits", conftest_limits("cache", "redis")),
        (all_in_one, "Deployment//catalog", "limits", conftest_limits("catalog", "catalog-api")),
        (all_in_one, "Service//web", "no-nodeport", nodeport),
        (all_in_one, "Deployment//web", "limits", conftest_limits("web", "storefront")),
        (
            "cache-deployment.yaml",
            "Deployment//cache",
            "limits",
            conftest_limits("cache", "valkey"),
        ),
        (
            "catalog-deployment.yaml",
            "Deployment//catalog",
            "limits",
            conftest_limits("catalog", "api"),
        ),
        ("web-deployment.yaml", "Deployment//web", "limits", conftest_limits("web", "storefront")),
        ("web-service.yaml", "Service//web", "no-nodeport", nodeport),
    ]
    assert len(decisions) == 11  # one decision for each of 6 Deployments and 5 Services


def _limits_on_cronjob(*, settings: str | None, **action: str) -> Decision:
    files = {
        "policies/containerlimits-template.yaml": (
            FIXTURES / "containerlimits-template.yaml"
        ).read_text(),
        "policies/c.yaml": constraint(
            "K8sContainerLimits",
            "limits",
            match={"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]},
            **action,
        ),
        "resources/cron.yaml": CRONJOB,
    }
    if settings is not None:
        files["reconciler.yaml"] = (
            "apiVersion: reconciler.dev/v1\nkind: Settings\nmetadata: {name: repo}\n"
            f"spec: {{defaultEnforcement: {settings}}}\n"
        )
    snapshot = loader.load(MemoryTree(files))  # the loader reads reconciler.yaml
    compiled = bundle.compile(snapshot, builtin_dir=NO_BUILTINS)
    assert (snapshot.problems, compiled.problems) == ((), ())
    evaluator = evaluate.Evaluator(compiled, clock=ManualClock(), revision=None)
    [decision] = evaluator.evaluate_all(snapshot)
    return decision


def test_a_constraint_without_an_enforcement_action_takes_the_default_enforcement() -> None:
    found = {
        settings: _limits_on_cronjob(settings=settings)
        for settings in (None, "strict", "advisory", "monitor")
    }
    assert {k: (d.enforcement, d.action_taken) for k, d in found.items()} == {
        None: (Enforcement.STRICT, Action.BLOCKED),
        "strict": (Enforcement.STRICT, Action.BLOCKED),
        "advisory": (Enforcement.ADVISORY, Action.WARNED),
        "monitor": (Enforcement.MONITOR, Action.RECORDED),
    }


def test_a_constraints_own_enforcement_action_wins_over_the_default() -> None:
    decision = _limits_on_cronjob(settings="monitor", enforcementAction="deny")
    assert (decision.enforcement, decision.action_taken) == (Enforcement.STRICT, Action.BLOCKED)
