"""Normalisation: managed fields, ignore rules, provider defaults and strict paths."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from reconciler import errors
from reconciler.plan import diffs, ignore

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "prod", "labels": {"app": "web"}},
    "spec": {
        "replicas": 2,
        "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}},
    },
}


def applied(desired: dict[str, Any]) -> dict[str, Any]:
    """What a provider reports right after applying `desired`: ids, status, defaults."""
    observed = copy.deepcopy(desired)
    observed["metadata"] |= {
        "uid": "0b4c",
        "resourceVersion": "981",
        "creationTimestamp": "2026-01-01T00:00:00Z",
        "generation": 1,
        "managedFields": [{"manager": "reconciler"}],
        "labels": {"app": "web", "pod-template-hash": "7d9f"},
    }
    observed["spec"] |= {"revisionHistoryLimit": 10, "strategy": {"type": "RollingUpdate"}}
    container = observed["spec"]["template"]["spec"]["containers"][0]
    container |= {"imagePullPolicy": "IfNotPresent", "ports": []}
    observed["status"] = {"readyReplicas": 2}
    return observed


def compare(
    desired: dict[str, Any], observed: dict[str, Any], rules: tuple[ignore.IgnoreRule, ...] = ()
) -> list[str]:
    want, have = ignore.normalise(desired, observed, rules=rules)
    return [str(item) for item in diffs.diff(have, want)]


def test_freshly_applied_resource_shows_no_diff() -> None:
    assert compare(DEPLOYMENT, applied(DEPLOYMENT)) == []


def test_normalise_leaves_its_inputs_unchanged() -> None:
    observed = applied(DEPLOYMENT)
    before = copy.deepcopy(observed), copy.deepcopy(DEPLOYMENT)
    ignore.normalise(DEPLOYMENT, observed, rules=())
    assert (observed, DEPLOYMENT) == before


def test_managed_fields_are_dropped_even_when_desired_sets_them() -> None:
    desired = copy.deepcopy(DEPLOYMENT) | {"status": {"readyReplicas": 5}}
    assert compare(desired, applied(DEPLOYMENT)) == []


def test_drift_in_a_desired_field_shows() -> None:
    observed = applied(DEPLOYMENT)
    observed["spec"]["replicas"] = 5
    observed["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.24"
    assert compare(DEPLOYMENT, observed) == [
        "~ spec.replicas: 5 -> 2",
        "~ spec.template.spec.containers[name=web].image: 'nginx:1.24' -> 'nginx:1.25'",
    ]


def test_extra_list_items_are_drift() -> None:
    observed = applied(DEPLOYMENT)
    observed["spec"]["template"]["spec"]["containers"].append({"name": "debug", "image": "x"})
    assert compare(DEPLOYMENT, observed) == [
        "- spec.template.spec.containers[name=debug]: {'name': 'debug', 'image': 'x'}"
    ]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (ignore.IgnoreRule(kind="Deployment", paths=("/spec/replicas",)), []),
        (ignore.IgnoreRule(kind="Deploy*", name="web", paths=("spec.replicas",)), []),
        (ignore.IgnoreRule(kind="Deployment", namespace="prod", paths=("/spec",)), []),
        (
            ignore.IgnoreRule(kind="Deployment", name="api", paths=("/spec/replicas",)),
            ["~ spec.replicas: 5 -> 2"],
        ),
        (ignore.IgnoreRule(kind="Service", paths=("/spec/replicas",)), ["~ spec.replicas: 5 -> 2"]),
        (
            ignore.IgnoreRule(kind="Deployment", namespace="dev", paths=("/spec",)),
            ["~ spec.replicas: 5 -> 2"],
        ),
    ],
)
def test_ignore_rules_match_by_kind_name_and_namespace(
    rule: ignore.IgnoreRule, expected: list[str]
) -> None:
    observed = applied(DEPLOYMENT)
    observed["spec"]["replicas"] = 5
    assert compare(DEPLOYMENT, observed, (rule,)) == expected


@pytest.mark.parametrize(
    "path",
    [
        "/spec/template/spec/containers/0/image",
        "/spec/template/spec/containers/*/image",
        "spec.template.spec.containers[0].image",
        "spec.template.spec.containers[*].image",
        "spec.template.spec.containers[name=web].image",
        ".spec.template.spec.containers[name=web].image",
    ],
)
def test_ignore_paths_into_lists(path: str) -> None:
    observed = applied(DEPLOYMENT)
    observed["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.24"
    assert (
        compare(DEPLOYMENT, observed, (ignore.IgnoreRule(kind="Deployment", paths=(path,)),)) == []
    )


def test_ignore_an_annotation_by_escaped_pointer_or_quoted_key() -> None:
    desired = copy.deepcopy(DEPLOYMENT)
    desired["metadata"]["annotations"] = {"example.com/hash": "a", "keep": "1"}
    observed = applied(desired)
    observed["metadata"]["annotations"] = {"example.com/hash": "b", "keep": "1"}
    for path in (
        "/metadata/annotations/example.com~1hash",
        'metadata.annotations["example.com/hash"]',
    ):
        assert compare(desired, observed, (ignore.IgnoreRule(paths=(path,)),)) == []


@pytest.mark.parametrize(
    ("strict", "expected"),
    [
        ((), []),
        (("/metadata/labels",), ["- metadata.labels.pod-template-hash: '7d9f'"]),
        (
            ("spec.template.spec.containers[*]",),
            [
                "- spec.template.spec.containers[name=web].imagePullPolicy: 'IfNotPresent'",
                "- spec.template.spec.containers[name=web].ports: []",
            ],
        ),
        (
            ("",),
            [
                "- metadata.labels.pod-template-hash: '7d9f'",
                "- spec.revisionHistoryLimit: 10",
                "- spec.strategy: {'type': 'RollingUpdate'}",
                "- spec.template.spec.containers[name=web].imagePullPolicy: 'IfNotPresent'",
                "- spec.template.spec.containers[name=web].ports: []",
            ],
        ),
    ],
)
def test_strict_paths_make_extra_observed_keys_drift(
    strict: tuple[str, ...], expected: list[str]
) -> None:
    rule = ignore.IgnoreRule(kind="Deployment", strict=strict)
    assert compare(DEPLOYMENT, applied(DEPLOYMENT), (rule,)) == expected


def test_strict_key_absent_from_desired_is_drift() -> None:
    desired = copy.deepcopy(DEPLOYMENT)
    del desired["metadata"]["labels"]
    rule = ignore.IgnoreRule(strict=("/metadata/labels",))
    assert compare(desired, applied(DEPLOYMENT), (rule,)) == [
        "- metadata.labels: {'app': 'web', 'pod-template-hash': '7d9f'}"
    ]


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("/spec/replicas", ("spec", "replicas")),
        ("/a~1b/c~0d", ("a/b", "c~d")),
        ("/spec/*/x", ("spec", "*", "x")),
        ("spec.containers[0].image", ("spec", "containers", 0, "image")),
        ("spec.containers[*]", ("spec", "containers", "*")),
        ('metadata.annotations["a.b/c"]', ("metadata", "annotations", "a.b/c")),
        ("", ()),
    ],
)
def test_parse_path(text: str, segments: ignore.Pattern) -> None:
    assert ignore.parse_path(text) == segments


def test_parse_path_named_segment_is_a_name() -> None:
    parsed = ignore.parse_path("spec.containers[name=web]")
    assert parsed == ("spec", "containers", "web")
    assert isinstance(parsed[2], diffs.Name)


@pytest.mark.parametrize("text", ["spec.", "spec..x", "a b", "[x]", "spec[0"])
def test_parse_path_rejects(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        ignore.parse_path(text)
    assert str(caught.value) == 'must be a path like "/spec/replicas" or "spec.replicas"'


def test_rules_from_settings() -> None:
    rules = ignore.rules_from_settings(
        [
            {
                "kind": "Deployment",
                "name": "web-*",
                "jsonPointers": ["/spec/replicas"],
                "paths": ["spec.x"],
            },
            {"kind": "ConfigMap", "namespace": "prod", "strict": ["/data"]},
        ]
    )
    assert rules == (
        ignore.IgnoreRule(kind="Deployment", name="web-*", paths=("/spec/replicas", "spec.x")),
        ignore.IgnoreRule(kind="ConfigMap", namespace="prod", strict=("/data",)),
    )


def test_rules_from_settings_reports_every_problem() -> None:
    with pytest.raises(errors.ProblemsError) as caught:
        ignore.rules_from_settings(
            [
                {"kind": 3, "jsonPointers": ["spec.replicas", "/ok"], "paths": [""]},
                {"kind": "Deployment", "paths": "spec.x", "colour": "red"},
                {"kind": "Deployment"},
                {"kind": "Deployment", "paths": ["spec..x"], "strict": [""]},
            ]
        )
    where = "reconciler.yaml spec.ignoreDifferences"
    assert str(caught.value) == "\n".join(
        [
            f'{where}[0].jsonPointers[0]: must be a JSON pointer like "/spec/replicas"',
            f'{where}[0].kind: must be a string (a glob like "Deployment" or "web-*")',
            f"{where}[0].paths[0]: must not be empty",
            f"{where}[1].colour: unknown key; expected one of "
            "kind, name, namespace, jsonPointers, paths, strict",
            f"{where}[1].paths: must be a list of paths",
            f"{where}[2].jsonPointers: a rule needs jsonPointers, paths or strict",
            f'{where}[3].paths[0]: must be a path like "/spec/replicas" or "spec.replicas"',
        ]
    )
