"""conftest's own examples, run through `reconciler` as `acceptance.bats` runs them.

`../shared/corpora/conftest` holds conftest's `examples/kubernetes`, `examples/exceptions`
and `examples/data` unmodified, with the `acceptance.bats` that runs `conftest test` and
`conftest verify` on them. Each case below is one `@test` of that file that uses only those
examples; it builds the repository a reconciler user would write (the example's `.rego`
files as they are under `policies/`, its manifests under `resources/`, its data under
`data/`, and one `input: conftest` binding per package, `main` unless the case binds every
package as `--all-namespaces` does), runs `reconciler eval --format json` (with
`--fail-on-warn` where conftest has it) (or
`reconciler test --format json` for `conftest verify`) in a subprocess, and checks what the
bats test checks: the exit status, the FAIL/WARN/EXCP messages and their counts.

conftest's "N tests, M passed" counts every written occurrence of a decision rule
(`deny` written three times in a package is three tests); reconciler counts decisions per
binding and resource, so those two numbers are not compared; failures, warnings and
exceptions are.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Done, run_cli

ROOT_RULE = "Containers must not run as root in Deployment hello-kubernetes"
SELECTORS = "Deployment hello-kubernetes must provide app/release labels for pod selectors"
LABELS = (
    "hello-kubernetes must include Kubernetes recommended labels: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/#labels"
)
NOT_ALLOWED = "Found deployment hello-kubernetes but deployments are not allowed"
SERVICE_WARNING = "Found service hello-kubernetes but services are not allowed"
DEPLOYMENT_FAILURES = (ROOT_RULE, SELECTORS, LABELS, NOT_ALLOWED)


@dataclass(frozen=True, kw_only=True)
class Case:
    """One `@test` of acceptance.bats and what it expects."""

    bats: str  # the @test name
    policy: str  # conftest -p: a folder (or one file) under examples/
    inputs: tuple[str, ...]  # the files conftest tests
    status: int
    failures: tuple[str, ...] = ()  # FAIL messages, each once
    warnings: tuple[str, ...] = ()
    exceptions: tuple[tuple[str, str], ...] = ()  # (resource name, suppressed rule)
    data: str | None = None  # conftest -d
    packages: tuple[str, ...] = ("main",)  # --namespace, or every package (--all-namespaces)
    flags: tuple[str, ...] = ()  # for `reconciler eval`


K8S = "kubernetes/policy"
CASES = [
    Case(
        bats="Not fail when testing a service with a warning",
        policy=K8S,
        inputs=("kubernetes/service.yaml",),
        status=0,
        warnings=(SERVICE_WARNING,),
    ),
    Case(
        bats="Fail when testing a service with warnings",
        policy=K8S,
        inputs=("kubernetes/service.yaml",),
        flags=("--fail-on-warn",),
        status=1,
        warnings=(SERVICE_WARNING,),
    ),
    Case(
        bats="Fail when testing a deployment with root containers",
        policy=K8S,
        inputs=("kubernetes/deployment.yaml",),
        status=1,
        failures=DEPLOYMENT_FAILURES,
    ),
    Case(
        bats="Test command with multiple input type",  # its service.yaml part
        policy=K8S,
        inputs=("kubernetes/service.yaml",),
        status=0,
        warnings=(SERVICE_WARNING,),
    ),
    Case(
        bats="The number of tests run is accurate",  # 1 warning, 0 failures, 0 exceptions
        policy=K8S,
        inputs=("kubernetes/service.yaml",),
        status=0,
        warnings=(SERVICE_WARNING,),
    ),
    Case(
        bats="Output results only once",  # four FAIL lines and the summary
        policy=K8S,
        inputs=("kubernetes/deployment.yaml",),
        status=1,
        failures=DEPLOYMENT_FAILURES,
    ),
    Case(
        bats="Should show output because of failure",  # --all-namespaces: 4 failures
        policy=K8S,
        inputs=("kubernetes/deployment.yaml",),
        status=1,
        failures=DEPLOYMENT_FAILURES,
        packages=("kubernetes", "main"),
    ),
    Case(
        bats="Should not show any output with quiet flag and all tests succeeds",
        policy="kubernetes/policy/deny.rego",
        inputs=("kubernetes/deployment.yaml",),
        status=0,
    ),
    Case(
        bats="Multi-file tests correctly fail when last file is fine",
        policy=K8S,
        inputs=("kubernetes/deployment.yaml", "kubernetes/service.yaml"),
        status=1,
        failures=DEPLOYMENT_FAILURES,
        warnings=(SERVICE_WARNING,),
    ),
    Case(
        bats="Exceptions reported correctly",  # 1 failure, 1 exception
        policy="exceptions/policy",
        inputs=("exceptions/deployments.yaml",),
        status=1,
        failures=("Containers must not run as root in Deployment cannot-run-as-root",),
        exceptions=(("can-run-as-root", "deny_run_as_root"),),
    ),
    Case(
        bats="Exceptions output",  # EXCP names the rule the exception covers: run_as_root
        policy="exceptions/policy",
        inputs=("exceptions/deployments.yaml",),
        status=1,
        failures=("Containers must not run as root in Deployment cannot-run-as-root",),
        exceptions=(("can-run-as-root", "deny_run_as_root"),),
    ),
    Case(
        bats="Can load data along with rego policies",
        policy="data/policy",
        inputs=("data/service.yaml",),
        data="data/exclusions",
        status=1,
        failures=("Cannot expose port 22 on LoadBalancer. Denied ports: [22, 21]",),
    ),
]


def build(shared: Path, root: Path, case: Case) -> Path:
    """The repository a reconciler user writes for `case`, from the examples as they are."""
    examples = shared / "corpora" / "conftest" / "examples"
    policies = root / "policies"
    policies.mkdir(parents=True)
    source = examples / case.policy
    for rego in [source] if source.is_file() else sorted(source.glob("*.rego")):
        shutil.copyfile(rego, policies / rego.name)
    (policies / "bindings.yaml").write_text(
        "\n---\n".join(json.dumps(binding(p)) for p in case.packages), encoding="utf-8"
    )
    (root / "resources").mkdir()
    for path in case.inputs:
        shutil.copyfile(examples / path, root / "resources" / Path(path).name)
    if case.data:
        (root / "data").mkdir()
        for doc in sorted((examples / case.data).iterdir()):
            shutil.copyfile(doc, root / "data" / doc.name)
    return root


def binding(package: str) -> dict[str, Any]:
    return {
        "apiVersion": "reconciler.dev/v1",
        "kind": "PolicyBinding",
        "metadata": {"name": package},
        "spec": {"policy": package, "input": "conftest"},
    }


def evaluate(repo: Path, home: Path, *flags: str) -> tuple[Done, dict[str, Any]]:
    home.mkdir()
    done = run_cli("eval", repo, "--format", "json", *flags, home=home)
    assert done.out, done.err
    return done, json.loads(done.out)


@pytest.mark.parametrize("case", CASES, ids=[c.bats for c in CASES])
def test_conftest_example_as_acceptance_bats_expects(
    shared: Path, tmp_path: Path, case: Case
) -> None:
    repo = build(shared, tmp_path / "repo", case)
    done, report = evaluate(repo, tmp_path / "home", *case.flags)
    decisions = report["decisions"]
    failures = [m for d in decisions if d["outcome"] in ("deny", "error") for m in d["messages"]]
    warnings = [m for d in decisions if d["outcome"] == "warn" for m in d["messages"]]
    exceptions = [
        (d["resource"]["name"], rule) for d in decisions for rule in suppressed(d["explanation"])
    ]
    assert (done.code, sorted(failures), sorted(warnings), exceptions) == (
        case.status,
        sorted(case.failures),
        sorted(case.warnings),
        list(case.exceptions),
    )


def suppressed(explanation: str) -> list[str]:
    """Rules an `exception` rule silenced, as the decision's explanation names them."""
    marker = "the policy's exception rule suppressed "
    if marker not in explanation:
        return []
    return explanation.split(marker, 1)[1].split(";")[0].rstrip(".").split(", ")


VERIFY = [
    ("Can verify rego tests", K8S, None, 4),
    ("Verify command matches a namespace literally", K8S, None, 4),
    ("Verify command matches namespaces with a wildcard", K8S, None, 4),
    ("Can load data in unit tests", "data/policy", "data/exclusions", 1),
    ("Can verify rego tests that uses parse_combined_config_files", "kubernetes/combine", None, 2),
]


@pytest.mark.parametrize(("bats", "policy", "data", "passed"), VERIFY, ids=[v[0] for v in VERIFY])
def test_conftest_verify_as_reconciler_test(
    shared: Path, tmp_path: Path, bats: str, policy: str, data: str | None, passed: int
) -> None:
    case = Case(bats=bats, policy=policy, inputs=(), status=0, data=data)
    repo = build(shared, tmp_path / "repo", case)
    folder = shared / "corpora" / "conftest" / "examples" / policy
    for rego in sorted(folder.glob("*.rego")):
        assert (repo / "policies" / rego.name).read_bytes() == rego.read_bytes()
    for test_input in sorted(folder.glob("*.yaml")):  # kept beside the tests that read them
        shutil.copyfile(test_input, repo / "policies" / test_input.name)
    home = tmp_path / "home"
    home.mkdir()
    done = run_cli("test", repo, "--format", "json", home=home)
    report = json.loads(done.out)
    assert (done.code, report["counts"]) == (
        0,
        {"pass": passed, "fail": 0, "error": 0, "skip": 0, "total": passed},
    )
