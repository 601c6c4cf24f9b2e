"""`eval` reports a policy's deny and warning about one resource apart; `--fail-on-warn`."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Cli

# conftest style: a v0 module without imports calling the builtin contains(), with a
# deny and a warn rule that both fire on the same resource.
POLICY = """\
package main

deny[msg] {
  contains(input.spec.image, ":latest")
  msg := sprintf("%v uses :latest", [input.metadata.name])
}

warn[msg] {
  not input.metadata.labels.owner
  msg := sprintf("%v has no owner label", [input.metadata.name])
}
"""
BINDING = """\
apiVersion: reconciler.dev/v1
kind: PolicyBinding
metadata: {name: main}
spec: {policy: main, input: conftest}
"""
WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: prod}
spec: {image: "web:latest"}
"""
API = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: prod}
spec: {image: "api:1.2"}
"""


def repository(root: Path, *resources: tuple[str, str]) -> Path:
    (root / "policies").mkdir(parents=True)
    (root / "resources").mkdir()
    (root / "policies" / "main.rego").write_text(POLICY, encoding="utf-8")
    (root / "policies" / "binding.yaml").write_text(BINDING, encoding="utf-8")
    for name, text in resources:
        (root / "resources" / name).write_text(text, encoding="utf-8")
    return root


def test_deny_and_warning_of_one_policy_are_reported_apart(cli: Cli, tmp_path: Path) -> None:
    repo = repository(tmp_path / "repo", ("web.yaml", WEB))
    done = cli("eval", repo, "--format", "json")
    report = json.loads(done.out)
    assert (done.code, report["summary"]) == (
        1,
        {
            **{"allow": 0, "deny": 1, "warn": 1, "error": 0},
            **{"blocked": 1, "warned": 1, "recorded": 0, "exempted": 0},
        },
    )
    assert [(d["outcome"], d["action"], d["messages"]) for d in report["decisions"]] == [
        ("deny", "blocked", ["web uses :latest"]),
        ("warn", "warned", ["web has no owner label"]),
    ]
    assert cli("eval", repo).lines == [
        "OUTCOME  ACTION   ENFORCEMENT  RESOURCE             POLICY",
        "deny     blocked  strict       Deployment/prod/web  main",
        "  - web uses :latest",
        "warn     warned   strict       Deployment/prod/web  main",
        "  - web has no owner label",
        "",
        "2 decisions: 0 allow, 1 deny, 1 warn, 0 error (1 blocked, 1 warned, 0 recorded,"
        " 0 exempted)",
    ]


def test_fail_on_warn(cli: Cli, tmp_path: Path) -> None:
    repo = repository(tmp_path / "repo", ("api.yaml", API))
    assert cli("eval", repo).code == 0
    done = cli("eval", repo, "--fail-on-warn", "--format", "json")
    assert (done.code, json.loads(done.out)["summary"]) == (
        1,
        {
            **{"allow": 1, "deny": 0, "warn": 1, "error": 0},
            **{"blocked": 0, "warned": 1, "recorded": 0, "exempted": 0},
        },
    )
