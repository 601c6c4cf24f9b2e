"""Gatekeeper templates and conftest policies over real manifests (kubernetes/examples)."""

from __future__ import annotations

import json

from reconciler.clock import ManualClock
from reconciler.policy import bundle, evaluate
from reconciler.policy.decisions import Action, Decision, Outcome
from reconciler.specs import loader
from reconciler.specs.models import Enforcement
from tests.policy.conftest import FIXTURES, GUESTBOOK, NO_BUILTINS, make_snapshot
from tests.specs.conftest import MemoryTree


def guestbook() -> dict[str, str]:
    return {f"resources/{p.name}": p.read_text() for p in sorted(GUESTBOOK.glob("*.yaml"))}


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


def implied(container: str) -> tuple[str, ...]:
    return (f"[Implied by expand-deployments] container <{container}> has no resource limits",)


def test_gatekeeper_templates_see_the_pods_of_the_guestbook_deployments() -> None:
    decisions = run({**guestbook(), **gatekeeper_files()})
    assert findings(decisions) == [
        ("frontend-deployment.yaml", "Deployment//frontend", LIMITS, implied("php-redis")),
        ("frontend-deployment.yaml", "Deployment//frontend", LABELS, NO_LABELS),
        ("guestbook-all-in-one.yaml", "Deployment//redis-master", LIMITS, implied("master")),
        ("guestbook-all-in-one.yaml", "Deployment//redis-master", LABELS, NO_LABELS),
        ("guestbook-all-in-one.yaml", "Deployment//redis-replica", LIMITS, implied("replica")),
        ("guestbook-all-in-one.yaml", "Deployment//redis-replica", LABELS, NO_LABELS),
        ("guestbook-all-in-one.yaml", "Deployment//frontend", LIMITS, implied("php-redis")),
        ("guestbook-all-in-one.yaml", "Deployment//frontend", LABELS, NO_LABELS),
        ("redis-master-deployment.yaml", "Deployment//redis-master", LIMITS, implied("master")),
        ("redis-master-deployment.yaml", "Deployment//redis-master", LABELS, NO_LABELS),
        ("redis-replica-deployment.yaml", "Deployment//redis-replica", LIMITS, implied("slave")),
        ("redis-replica-deployment.yaml", "Deployment//redis-replica", LABELS, NO_LABELS),
    ]
    services = [d for d in decisions if d.resource.kind == "Service"]
    assert {d.binding for d in services} == {LABELS}  # labelled app/tier: allowed
    assert all(d.action_taken is Action.ALLOWED for d in services)
    limits = next(d for d in decisions if d.binding == LIMITS)
    assert (limits.enforcement, limits.action_taken) == (Enforcement.STRICT, Action.BLOCKED)
    labels = next(d for d in decisions if d.binding == LABELS and d.outcome is Outcome.DENY)
    assert (labels.enforcement, labels.action_taken) == (Enforcement.ADVISORY, Action.WARNED)
    assert labels.explanation == (
        f"{LABELS} denied Deployment//frontend (1 finding);"
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


def test_conftest_policies_on_the_guestbook() -> None:
    files = {
        **guestbook(),
        "policies/services.rego": NODEPORT,
        "policies/limits.rego": LIMITS_CONFTEST,
        "policies/bindings.yaml": BINDINGS,
    }
    decisions = run(files)

    def limits(name: str, container: str) -> tuple[str, ...]:
        return (f"Deployment {name}: container {container} has no resource limits",)

    assert findings(decisions) == [
        (
            "frontend-deployment.yaml",
            "Deployment//frontend",
            "limits",
            limits("frontend", "php-redis"),
        ),
        (
            "frontend-service.yaml",
            "Service//frontend",
            "no-nodeport",
            ("Service frontend uses NodePort",),
        ),
        (
            "guestbook-all-in-one.yaml",
            "Deployment//redis-master",
            "limits",
            limits("redis-master", "master"),
        ),
        (
            "guestbook-all-in-one.yaml",
            "Deployment//redis-replica",
            "limits",
            limits("redis-replica", "replica"),
        ),
        (
            "guestbook-all-in-one.yaml",
            "Service//frontend",
            "no-nodeport",
            ("Service frontend uses NodePort",),
        ),
        (
            "guestbook-all-in-one.yaml",
            "Deployment//frontend",
            "limits",
            limits("frontend", "php-redis"),
        ),
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
