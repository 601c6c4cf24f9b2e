"""`validate` and `eval` report the conflicts a revision's bindings already hold."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Cli

REPLICAS = """\
package k8s.replicas
import rego.v1

deny contains msg if {
  input.resource.spec.replicas < input.parameters.minReplicas
  msg := "too few replicas"
}

deny contains msg if {
  input.resource.spec.replicas > input.parameters.maxReplicas
  msg := "too many replicas"
}
"""
BINDINGS = """\
apiVersion: reconciler.dev/v1
kind: PolicyBinding
metadata: {name: at-least-five}
spec:
  policy: k8s.replicas
  scope: {kinds: [Deployment]}
  parameters: {minReplicas: 5}
---
apiVersion: reconciler.dev/v1
kind: PolicyBinding
metadata: {name: at-most-three}
spec:
  policy: k8s.replicas
  scope: {kinds: [Deployment], namespaces: [prod]}
  parameters: {maxReplicas: 3}
"""
WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: prod}
spec: {replicas: 4}
"""
MESSAGE = (
    "binding at-least-five requires minReplicas 5 but binding at-most-three allows at most"
    " maxReplicas 3 on overlapping scope: no resource in both can satisfy both"
)
LINE = (
    "policies/bindings.yaml:1, policies/bindings.yaml:9: conflict (parameters): "
    f"{MESSAGE} (both match Deployment/prod/web)"
)
CONFLICT = {
    "kind": "parameters",
    "subjects": ["at-least-five", "at-most-three"],
    "locations": ["policies/bindings.yaml:1", "policies/bindings.yaml:9"],
    "message": MESSAGE,
    "examples": ["Deployment/prod/web"],
}


def repository(root: Path) -> Path:
    (root / "policies").mkdir(parents=True)
    (root / "resources").mkdir()
    (root / "policies" / "replicas.rego").write_text(REPLICAS, encoding="utf-8")
    (root / "policies" / "bindings.yaml").write_text(BINDINGS, encoding="utf-8")
    (root / "resources" / "web.yaml").write_text(WEB, encoding="utf-8")
    return root


def test_validate_reports_existing_conflicts_without_failing(cli: Cli, tmp_path: Path) -> None:
    repo = repository(tmp_path / "repo")
    done = cli("validate", repo)
    assert (done.code, done.lines) == (
        0,
        [
            LINE,
            "ok: working tree: 1 resource, 1 policy, 2 bindings, 0 constraints, "
            "0 workflows, 0 runbooks",
        ],
    )
    report = json.loads(cli("validate", repo, "--format", "json").out)
    assert (report["valid"], report["conflicts"]) == (True, [CONFLICT])


def test_eval_reports_existing_conflicts(cli: Cli, tmp_path: Path) -> None:
    repo = repository(tmp_path / "repo")
    done = cli("eval", repo, "--format", "json")
    report = json.loads(done.out)
    assert (done.code, report["conflicts"], report["summary"]) == (
        1,
        [CONFLICT],
        {
            **{"allow": 0, "deny": 2, "warn": 0, "error": 0},
            **{"blocked": 2, "warned": 0, "recorded": 0, "exempted": 0},
        },
    )
    table = cli("eval", repo)
    assert table.lines[-2:] == [
        "2 decisions: 0 allow, 2 deny, 0 warn, 0 error (2 blocked, 0 warned, 0 recorded, "
        "0 exempted)",
        LINE,
    ]
