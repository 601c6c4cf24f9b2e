"""Kubernetes manifests written for the tests (`tests/fixtures/manifests/bookshop`), committed
into an init'ed repository and checked by the example's policies: missing owner/team labels
and container limits, images from registries the Gatekeeper constraint and the images policy
do not allow. `tests/external/test_cli_guestbook.py` does the same with the kubernetes/examples
guestbook."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests import gitrepo, manifests
from tests.cli.conftest import Cli, assert_documented_shape, head

ALL_IN_ONE = manifests.ALL_IN_ONE
ALLOWED_REPOS = '["registry.example.com/", "docker.io/library/", "quay.io/prometheus/"]'
ALLOWED_REGISTRIES = "registry.example.com, docker.io, quay.io"


Finding = tuple[str, str, str, str, tuple[str, ...]]  # binding, resource, outcome, action, msgs


def add_manifests(repo: Path, names: list[str], *, source: Path = manifests.BOOKSHOP) -> str:
    """Commit the manifests `names` of `source` under `resources/app/` of `repo`."""
    folder = repo / "resources" / "app"
    folder.mkdir()
    for name in names:
        shutil.copy(source / name, folder / name)
    return gitrepo.commit(repo, {}, message=f"Add {source.name}")


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
    """What the example's policies say about a Deployment of these manifests: no labels, no limits,
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
    deployment_findings("web", container="storefront", image="ghcr.io/acme/bookshop-web:1.4.2")
    | deployment_findings("catalog", container="api", image="public.ecr.aws/acme/catalog:3.1")
    | deployment_findings("cache", container="valkey", image="mirror.gcr.io/valkey/valkey:8.0")
    | {unlabelled("Service", "web"), unlabelled("Service", "catalog")}
)
ONE_FILE = (
    deployment_findings("web", container="storefront", image="ghcr.io/acme/bookshop-web:1.3.9")
    | deployment_findings(
        "catalog", container="catalog-api", image="public.ecr.aws/acme/catalog:3.0"
    )
    | deployment_findings("cache", container="redis", image="registry.example.org/cache/redis:7")
    | {unlabelled("Service", n) for n in ("web", "catalog", "cache")}
)


def app_decisions(report: dict[str, Any]) -> set[Finding]:
    return {
        (
            d["binding"],
            f"{d['resource']['kind']}/{d['resource']['namespace'] or ''}/{d['resource']['name']}",
            d["outcome"],
            d["action"],
            tuple(d["messages"]),
        )
        for d in report["decisions"]
        if d["resource"]["path"].startswith("resources/app/")
    }


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ([name for name in manifests.names() if name != ALL_IN_ONE], SEPARATE_FILES),
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
    assert app_decisions(report) == expected


def test_the_table_wraps_a_long_gatekeeper_message(cli: Cli, example: Path) -> None:
    add_manifests(example, ["web-deployment.yaml"])
    done = cli("eval", example)
    assert done.code == 1
    at = done.lines.index(
        "deny     blocked   strict       Deployment//web                        K8sAllowedRepos"
    )
    assert done.lines[at + 1 : at + 4] == [
        "  - [Implied by expand-deployments] container <storefront> has an invalid image repo",
        '    <ghcr.io/acme/bookshop-web:1.4.2>, allowed repos are ["registry.example.com/",',
        '    "docker.io/library/", "quay.io/prometheus/"]',
    ]


def test_every_manifest_together_defines_objects_twice(cli: Cli, example: Path) -> None:
    """The all-in-one file repeats the separate ones: validate names every duplicate at the
    line its document starts on (after a leading comment, after `--- # comment`)."""
    add_manifests(example, manifests.names())
    done = cli("validate", "--repo", example)
    g, first = "resources/app", f"first defined at resources/app/{ALL_IN_ONE}"
    assert done.code == 1
    assert done.lines == [
        f"{g}/cache-deployment.yaml:1: duplicate Deployment//cache, {first}:15",
        f"{g}/catalog-deployment.yaml:1: duplicate Deployment//catalog, {first}:51",
        f"{g}/catalog-service.yaml:1: duplicate Service//catalog, {first}:38",
        f"{g}/web-deployment.yaml:2: duplicate Deployment//web, {first}:89",
        f"{g}/web-service.yaml:1: duplicate Service//web, {first}:74",
        f"5 problems in HEAD@{head(example)[:12]}",
    ]
