"""The Kubernetes guestbook example's manifests, committed into an init'ed repository and
checked by the example's policies: missing owner/team labels and container limits, images
from registries the Gatekeeper constraint and the images policy do not allow."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests import gitrepo
from tests.cli.conftest import GUESTBOOK, Cli, assert_documented_shape, head

ALL_IN_ONE = "guestbook-all-in-one.yaml"
ALLOWED_REPOS = '["registry.example.com/", "docker.io/library/", "quay.io/prometheus/"]'
ALLOWED_REGISTRIES = "registry.example.com, docker.io, quay.io"


Finding = tuple[str, str, str, str, tuple[str, ...]]  # binding, resource, outcome, action, msgs


def add_manifests(repo: Path, names: list[str]) -> str:
    folder = repo / "resources" / "guestbook"
    folder.mkdir()
    for name in names:
        shutil.copy(GUESTBOOK / name, folder / name)
    return gitrepo.commit(repo, {}, message="Add the guestbook")


def unlabelled(kind: str, name: str) -> Finding:
    return (
        "require-owner-labels",
        f"{kind}//{name}",
        "deny",
        "blocked",
        tuple(
            f'{kind} {name} is missing the required label "{label}"' for label in ("owner", "team")
        ),
    )


def deployment_findings(name: str, *, container: str, image: str) -> set[Finding]:
    """What the example's policies say about a guestbook Deployment: no labels, no limits,
    an image from a registry outside both allow-lists; nothing runs privileged."""
    registry = image.split("/")[0]
    where = f"Deployment//{name}"
    return {
        unlabelled("Deployment", name),
        (
            "container-limits",
            where,
            "deny",
            "warned",
            tuple(
                f'Deployment {name}: container "{container}" has no {r} limit'
                for r in ("cpu", "memory")
            ),
        ),
        (
            "pinned-images",
            where,
            "deny",
            "warned",
            (
                f'Deployment {name}: container "{container}" pulls from {registry}, which is not'
                f" an allowed registry ({ALLOWED_REGISTRIES})",
            ),
        ),
        (
            "K8sAllowedRepos/images-from-trusted-repos",
            where,
            "deny",
            "blocked",
            (
                f"[Implied by expand-deployments] container <{container}> has an invalid image"
                f" repo <{image}>, allowed repos are {ALLOWED_REPOS}",
            ),
        ),
        ("no-privileged-containers", where, "allow", "allowed", ()),
    }


SEPARATE_FILES = (
    deployment_findings(
        "frontend", container="php-redis", image="gcr.io/google-samples/gb-frontend:v4"
    )
    | deployment_findings("redis-master", container="master", image="registry.k8s.io/redis:e2e")
    | deployment_findings(
        "redis-replica", container="slave", image="gcr.io/google_samples/gb-redisslave:v1"
    )
    | {unlabelled("Service", "frontend"), unlabelled("Service", "redis-replica")}
)
ONE_FILE = (
    deployment_findings(
        "frontend", container="php-redis", image="gcr.io/google-samples/gb-frontend:v4"
    )
    | deployment_findings("redis-master", container="master", image="k8s.gcr.io/redis:e2e")
    | deployment_findings(
        "redis-replica", container="replica", image="gcr.io/google_samples/gb-redisslave:v1"
    )
    | {unlabelled("Service", n) for n in ("frontend", "redis-master", "redis-replica")}
)


def guestbook_decisions(report: dict[str, Any]) -> set[Finding]:
    return {
        (
            d["binding"],
            f"{d['resource']['kind']}/{d['resource']['namespace'] or ''}/{d['resource']['name']}",
            d["outcome"],
            d["action"],
            tuple(d["messages"]),
        )
        for d in report["decisions"]
        if d["resource"]["path"].startswith("resources/guestbook/")
    }


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (sorted(p.name for p in GUESTBOOK.glob("*.yaml") if p.name != ALL_IN_ONE), SEPARATE_FILES),
        ([ALL_IN_ONE], ONE_FILE),
    ],
    ids=["separate-files", "all-in-one"],
)
def test_eval_finds_what_the_example_policies_forbid(
    cli: Cli, example: Path, names: list[str], expected: set[Finding]
) -> None:
    sha = add_manifests(example, names)
    done = cli("eval", "--repo", example, "--format", "json")
    assert done.code == 1  # strict findings block
    report = json.loads(done.out)
    assert_documented_shape(report, name="eval")
    assert report["revision"] == sha
    assert guestbook_decisions(report) == expected


def test_the_table_wraps_a_long_gatekeeper_message(cli: Cli, example: Path) -> None:
    add_manifests(example, ["frontend-deployment.yaml"])
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


def test_every_manifest_together_defines_objects_twice(cli: Cli, example: Path) -> None:
    """The all-in-one file repeats the separate ones: validate names every duplicate."""
    add_manifests(example, sorted(p.name for p in GUESTBOOK.glob("*.yaml")))
    done = cli("validate", "--repo", example)
    g = "resources/guestbook"
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
