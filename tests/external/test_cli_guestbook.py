"""The Kubernetes guestbook example's manifests (`../shared/fixtures/manifests`, from
kubernetes/examples), committed into an init'ed repository and checked by the example's
policies with the real `reconciler` command, as `tests/cli/test_cli_manifests.py` does with
the manifests written for the tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import manifests
from tests.cli import test_cli_manifests as checks
from tests.cli.conftest import Cli, Done, assert_documented_shape, head, run_cli

ALL_IN_ONE = "guestbook-all-in-one.yaml"
SEPARATE_FILES = (
    checks.deployment_findings(
        "frontend", container="php-redis", image="gcr.io/google-samples/gb-frontend:v4"
    )
    | checks.deployment_findings(
        "redis-master", container="master", image="registry.k8s.io/redis:e2e"
    )
    | checks.deployment_findings(
        "redis-replica", container="slave", image="gcr.io/google_samples/gb-redisslave:v1"
    )
    | {checks.unlabelled("Service", "frontend"), checks.unlabelled("Service", "redis-replica")}
)
ONE_FILE = (
    checks.deployment_findings(
        "frontend", container="php-redis", image="gcr.io/google-samples/gb-frontend:v4"
    )
    | checks.deployment_findings("redis-master", container="master", image="k8s.gcr.io/redis:e2e")
    | checks.deployment_findings(
        "redis-replica", container="replica", image="gcr.io/google_samples/gb-redisslave:v1"
    )
    | {checks.unlabelled("Service", n) for n in ("frontend", "redis-master", "redis-replica")}
)


@pytest.fixture
def guestbook(shared: Path) -> Path:
    return shared / "fixtures" / "manifests" / "kubernetes-examples-guestbook"


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    home = tmp_path / "home"
    home.mkdir()

    def run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> Done:
        return run_cli(*args, home=home, cwd=cwd, env=env)

    return run


@pytest.fixture
def example(cli: Cli, tmp_path: Path) -> Path:
    done = cli("init", tmp_path / "example")
    assert done.code == 0, done.err
    return tmp_path / "example"


@pytest.mark.parametrize("one_file", [False, True], ids=["separate-files", "all-in-one"])
def test_eval_finds_what_the_example_policies_forbid(
    cli: Cli, example: Path, guestbook: Path, one_file: bool
) -> None:
    names = [n for n in manifests.names(guestbook) if (n == ALL_IN_ONE) == one_file]
    sha = checks.add_manifests(example, names, source=guestbook)
    done = cli("eval", "--repo", example, "--format", "json")
    assert done.code == 1  # strict findings block
    report = json.loads(done.out)
    assert_documented_shape(report, name="eval")
    assert report["revision"] == sha
    assert checks.app_decisions(report) == (ONE_FILE if one_file else SEPARATE_FILES)


def test_the_table_wraps_a_long_gatekeeper_message(
    cli: Cli, example: Path, guestbook: Path
) -> None:
    checks.add_manifests(example, ["frontend-deployment.yaml"], source=guestbook)
    done = cli("eval", example)
    assert done.code == 1
    at = done.lines.index(
        "deny     blocked   strict       Deployment//frontend                   K8sAllowedRepos"
    )
    assert done.lines[at + 1 : at + 4] == [
        "  - [Implied by expand-deployments] container <php-redis> has an invalid image repo",
        '    <gcr.io/google-samples/gb-frontend:v4>, allowed repos are ["registry.example.com/",',
        '    "docker.io/library/", "quay.io/prometheus/"]',
    ]


def test_every_manifest_together_defines_objects_twice(
    cli: Cli, example: Path, guestbook: Path
) -> None:
    """The all-in-one file repeats the separate ones: validate names every duplicate."""
    checks.add_manifests(example, manifests.names(guestbook), source=guestbook)
    done = cli("validate", "--repo", example)
    g = "resources/app"
    assert done.code == 1
    assert done.lines == [
        f"{g}/{ALL_IN_ONE}:98: duplicate Service//frontend, first defined at"
        f" {g}/frontend-service.yaml:1",
        f"{g}/{ALL_IN_ONE}:117: duplicate Deployment//frontend, first defined at"
        f" {g}/frontend-deployment.yaml:1",
        f"{g}/redis-master-deployment.yaml:1: duplicate Deployment//redis-master, first defined"
        f" at {g}/{ALL_IN_ONE}:18",
        f"{g}/redis-replica-deployment.yaml:1: duplicate Deployment//redis-replica, first defined"
        f" at {g}/{ALL_IN_ONE}:62",
        f"{g}/redis-replica-service.yaml:1: duplicate Service//redis-replica, first defined at"
        f" {g}/{ALL_IN_ONE}:46",
        f"5 problems in HEAD@{head(example)[:12]}",
    ]
