"""`reconciler eval` on the example repository: the findings table, the documented JSON
shape, and a strict violation committed on top that makes it fail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests import gitrepo
from tests.cli.conftest import Cli, assert_documented_shape, head

EXAMPLE_TABLE = """\
OUTCOME  ACTION    ENFORCEMENT  RESOURCE                               POLICY
deny     warned    advisory     Deployment/storefront/redis-cache      k8s.container_limits
  - Deployment storefront/redis-cache: container "redis" has no cpu limit
  - Deployment storefront/redis-cache: container "redis" has no memory limit
deny     recorded  monitor      Deployment/storefront/storefront-web   k8s.replicas
  - Deployment storefront/storefront-web runs 1 replica(s); at least 2 are expected
deny     exempted  strict       Deployment/reporting/legacy-reporting  k8s.required_labels
  - Deployment reporting/legacy-reporting is missing the required label "owner"
  - Deployment reporting/legacy-reporting is missing the required label "team"
  why: k8s.required_labels denied Deployment/reporting/legacy-reporting (2 findings); exempted by
    exception "legacy-reporting" (The legacy reporting stack predates the labelling rules; the data
    team is moving it to the new chart (DATA-412) and labels it there.) until
    2028-06-30T00:00:00+00:00.

36 decisions: 33 allow, 3 deny, 0 warn, 0 error (0 blocked, 1 warned, 1 recorded, 1 exempted)
"""

EXAMPLE_FINDINGS = {
    (
        "require-owner-labels",
        "Deployment/reporting/legacy-reporting",
        "deny",
        "strict",
        "exempted",
        (
            'Deployment reporting/legacy-reporting is missing the required label "owner"',
            'Deployment reporting/legacy-reporting is missing the required label "team"',
        ),
    ),
    (
        "container-limits",
        "Deployment/storefront/redis-cache",
        "deny",
        "advisory",
        "warned",
        (
            'Deployment storefront/redis-cache: container "redis" has no cpu limit',
            'Deployment storefront/redis-cache: container "redis" has no memory limit',
        ),
    ),
    (
        "replica-bounds",
        "Deployment/storefront/storefront-web",
        "deny",
        "monitor",
        "recorded",
        ("Deployment storefront/storefront-web runs 1 replica(s); at least 2 are expected",),
    ),
}


def key(resource: dict[str, Any]) -> str:
    return f"{resource['kind']}/{resource['namespace'] or ''}/{resource['name']}"


def findings(report: dict[str, Any]) -> set[tuple[Any, ...]]:
    return {
        (
            d["binding"],
            key(d["resource"]),
            d["outcome"],
            d["enforcement"],
            d["action"],
            tuple(d["messages"]),
        )
        for d in report["decisions"]
        if d["outcome"] != "allow"
    }


def test_eval_table_of_the_example(cli: Cli, shared_example: Path) -> None:
    done = cli("eval", shared_example)
    assert (done.code, done.err) == (0, "")
    assert done.out == EXAMPLE_TABLE


def test_eval_wraps_messages_to_a_narrow_terminal(cli: Cli, shared_example: Path) -> None:
    done = cli("eval", shared_example, env={"COLUMNS": "60"})
    assert done.code == 0
    notes = [line for line in done.lines if line.startswith("  ")]
    assert notes[:4] == [
        '  - Deployment storefront/redis-cache: container "redis" has',
        "    no cpu limit",
        '  - Deployment storefront/redis-cache: container "redis" has',
        "    no memory limit",
    ]
    assert all(len(line) <= 60 for line in notes)


def check_decision_types(decision: dict[str, Any]) -> None:
    """The documented keys and types, asserted without a schema library."""
    assert isinstance(decision["policy"], str) and isinstance(decision["binding"], str)
    assert set(decision["resource"]) >= {"apiVersion", "kind", "namespace", "name", "path"}
    assert all(isinstance(decision["resource"][k], str) for k in ("apiVersion", "kind", "name"))
    assert decision["resource"]["namespace"] is None or isinstance(
        decision["resource"]["namespace"], str
    )
    assert decision["resource"]["path"].startswith("resources/")
    assert decision["outcome"] in {"allow", "deny", "warn", "error"}
    assert decision["enforcement"] in {"strict", "advisory", "gradual", "monitor"}
    assert decision["action"] in {"allowed", "blocked", "warned", "recorded", "exempted"}
    assert all(isinstance(m, str) for m in decision["messages"])
    assert (decision["outcome"] == "allow") == (decision["messages"] == [])


def test_eval_json_of_the_example(cli: Cli, shared_example: Path) -> None:
    done = cli("eval", shared_example, "--format", "json")
    assert (done.code, done.err) == (0, "")
    report = json.loads(done.out)
    assert_documented_shape(report, name="eval")
    assert set(report) >= {"revision", "summary", "decisions"}
    assert report["revision"] is None
    assert report["summary"] == {
        "allow": 33,
        "deny": 3,
        "warn": 0,
        "error": 0,
        "blocked": 0,
        "warned": 1,
        "recorded": 1,
        "exempted": 1,
    }
    assert len(report["decisions"]) == 36
    for decision in report["decisions"]:
        check_decision_types(decision)
    assert findings(report) == EXAMPLE_FINDINGS


CHECKOUT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: checkout
  namespace: storefront
spec:
  replicas: 2
  selector:
    matchLabels: {app: checkout}
  template:
    metadata:
      labels: {app: checkout}
    spec:
      containers:
        - name: checkout
          image: registry.example.com/storefront/checkout:1.4.2
          resources:
            limits: {cpu: 500m, memory: 256Mi}
"""


def test_a_strict_violation_added_by_a_commit_fails_eval(cli: Cli, example: Path) -> None:
    gitrepo.tag(example, "v1")
    gitrepo.commit(example, {"resources/kubernetes/checkout.yaml": CHECKOUT}, message="checkout")
    before = cli("eval", "--repo", example, "--rev", "v1")
    assert before.code == 0
    done = cli("eval", "--repo", example)
    assert done.code == 1
    assert done.lines[1:4] == [
        "deny     blocked   strict       Deployment/storefront/checkout"
        "         k8s.required_labels",
        '  - Deployment storefront/checkout is missing the required label "owner"',
        '  - Deployment storefront/checkout is missing the required label "team"',
    ]
    assert done.lines[-1] == (
        "41 decisions: 37 allow, 4 deny, 0 warn, 0 error"
        " (1 blocked, 1 warned, 1 recorded, 1 exempted)"
    )
    report = json.loads(cli("eval", "--repo", example, "--format", "json").out)
    assert_documented_shape(report, name="eval")
    assert report["revision"] == head(example)
    assert {d["revision"] for d in report["decisions"]} == {head(example)}
    assert findings(report) - EXAMPLE_FINDINGS == {
        (
            "require-owner-labels",
            "Deployment/storefront/checkout",
            "deny",
            "strict",
            "blocked",
            (
                'Deployment storefront/checkout is missing the required label "owner"',
                'Deployment storefront/checkout is missing the required label "team"',
            ),
        )
    }
