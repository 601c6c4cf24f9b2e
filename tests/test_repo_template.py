"""The example repository and the built-in Rego library: they load, compile, pass their
own tests, and demonstrate what they claim (strict bindings deny nothing, advisory and
monitor bindings have findings, the exception and the conftest exception are needed)."""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
import yaml

from reconciler import assets
from reconciler.policy import rego as rego_engine
from reconciler.policy import testing
from reconciler.source import tree
from reconciler.specs import loader
from reconciler.specs.snapshot import Document, RegoFile

TEMPLATE = assets.template_dir()
LIBRARY = assets.rego_dir()
PROVIDER = TEMPLATE / "providers" / "local-service.py"


def yaml_files() -> list[Path]:
    return sorted(p for p in TEMPLATE.rglob("*.y*ml") if p.suffix in {".yaml", ".yml"})


def documents(folder: str) -> Iterator[tuple[Path, int, dict[str, Any]]]:
    for path in sorted((TEMPLATE / folder).rglob("*.yaml")):
        for index, doc in enumerate(yaml.safe_load_all(path.read_text("utf-8"))):
            if doc is not None:
                yield path, index, doc


def rego_files(root: Path, prefix: str) -> list[RegoFile]:
    return [
        RegoFile(path=prefix + p.relative_to(root).as_posix(), text=p.read_text("utf-8"))
        for p in sorted(root.rglob("*.rego"))
    ]


def template_documents() -> list[Document]:
    return [
        Document(
            path=path.relative_to(TEMPLATE).as_posix(),
            line=1,
            index=index,
            api_version=doc["apiVersion"],
            kind=doc["kind"],
            name=doc["metadata"]["name"],
            namespace=None,
            labels=MappingProxyType({}),
            body=doc,
        )
        for path, index, doc in documents("policies")
        if doc["kind"] == "ConstraintTemplate"
    ]


def template_data() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path in sorted((TEMPLATE / "data").rglob("*.yaml")):
        merged.update(yaml.safe_load(path.read_text("utf-8")))
    return merged


def template_modules() -> list[RegoFile]:
    return [*rego_files(TEMPLATE, ""), *testing.template_modules(template_documents())]


def test_every_rego_module_compiles_in_regorus() -> None:
    rego = rego_engine.RegoEngine()
    modules = [*rego_files(LIBRARY, "rego/"), *template_modules()]
    packages = {rego.add_module(m.path, m.text) for m in modules}
    rego.add_data(template_data())
    assert rego.eval_query("true")  # regorus runs its whole-program checks here
    assert {"data.lib.k8s", "data.lib.images", "data.lib.units", "data.k8sallowedrepos"} <= packages


def test_builtin_library_tests_pass() -> None:
    report = testing.run_tests([], data={}, builtin_dir=LIBRARY, include_builtin_tests=True)
    assert testing.render_text(report).splitlines()[-1] == f"PASS: {report.total}/{report.total}"
    assert {r.package for r in report.results} == {
        "lib.k8s_test",
        "lib.images_test",
        "lib.units_test",
        "reconciler.packs.runbook_safety_test",
    }


def test_template_policy_tests_pass_with_coverage() -> None:
    report = testing.run_tests(
        template_modules(), data=template_data(), builtin_dir=LIBRARY, coverage=True
    )
    assert testing.render_text(report).splitlines()[1] == f"PASS: {report.total}/{report.total}"
    tested = {r.package.removesuffix("_test") for r in report.results}
    assert tested == {
        "k8s.required_labels",
        "k8s.images",
        "k8s.container_limits",
        "k8s.replicas",
        "k8s.privileged",
        "k8sallowedrepos",
        "services.replica_ceiling",
        "reconciler.decisions.remediation",
    }
    assert report.coverage is not None
    assert {c.path: c.percent for c in report.coverage if c.percent < 100} == {}


def test_every_policy_has_a_test_file() -> None:
    policies = sorted((TEMPLATE / "policies").rglob("*.rego"))
    untested = [
        p.name
        for p in policies
        if not p.name.endswith("_test.rego") and not p.with_name(f"{p.stem}_test.rego").exists()
    ]
    assert untested == []


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: p.relative_to(TEMPLATE).as_posix())
def test_every_yaml_document_has_the_envelope(path: Path) -> None:
    docs = [d for d in yaml.safe_load_all(path.read_text("utf-8")) if d is not None]
    assert docs
    if path.relative_to(TEMPLATE).parts[0] == "data":  # data documents are plain mappings
        assert all(isinstance(d, dict) for d in docs)
        return
    for doc in docs:
        assert {"apiVersion", "kind", "metadata", "spec"} <= set(doc)
        assert isinstance(doc["metadata"]["name"], str) and doc["metadata"]["name"]


def test_loader_loads_the_template_without_problems() -> None:
    snap = loader.load(tree.DirectoryTree(TEMPLATE))
    assert [str(p) for p in snap.problems] == []
    assert len(snap.bindings) == 6
    assert (len(snap.workflows), len(snap.runbooks)) == (1, 3)
    assert (len(snap.constraint_templates), len(snap.constraints)) == (1, 1)
    assert sorted(snap.data) == ["registries", "teams"]


# --- What each binding finds in resources/ (scope and exceptions as the README states) ---


def bindings() -> dict[str, dict[str, Any]]:
    return {
        doc["metadata"]["name"]: doc["spec"]
        for _, _, doc in documents("policies")
        if doc["kind"] == "PolicyBinding"
    }


def in_scope(scope: dict[str, Any], doc: dict[str, Any]) -> bool:
    meta = doc["metadata"]
    namespace, labels = meta.get("namespace", ""), meta.get("labels", {})
    selector = (scope.get("labelSelector") or {}).get("matchExpressions", [])
    return (
        doc["kind"] in scope.get("kinds", [doc["kind"]])
        and namespace not in scope.get("excludedNamespaces", [])
        and all(fnmatch.fnmatchcase(namespace, g) for g in scope.get("namespaces", ["*"]))
        and all(fnmatch.fnmatchcase(meta["name"], g) for g in scope.get("names", ["*"]))
        and all(labels.get(e["key"]) in e["values"] for e in selector)
    )


def findings(binding: str, *, with_exceptions: bool = True) -> dict[str, list[str]]:
    """Resource name -> deny messages of one binding, over every resource in scope."""
    spec = bindings()[binding]
    rego = policy_engine()
    found: dict[str, list[str]] = {}
    for _, _, doc in documents("resources"):
        excepted = any(in_scope(e["match"], doc) for e in spec.get("exceptions", []))
        if not in_scope(spec.get("scope", {}), doc) or (excepted and with_exceptions):
            continue
        messages = evaluate(rego, policy=spec["policy"], spec=spec, doc=doc)
        if messages:
            found[doc["metadata"]["name"]] = messages
    return found


def policy_engine() -> rego_engine.RegoEngine:
    rego = rego_engine.RegoEngine()
    for module in [*rego_files(LIBRARY, "rego/"), *template_modules()]:
        if not module.is_test:
            rego.add_module(module.path, module.text)
    rego.add_data(template_data())
    return rego


def evaluate(
    rego: rego_engine.RegoEngine, *, policy: str, spec: dict[str, Any], doc: Any
) -> list[str]:
    if spec.get("input", "reconciler") == "conftest":
        rego.set_input_json(json.dumps(doc))
        package = rego.eval_query(f"data.{policy}")[0]["expressions"][0]["value"]
        excepted = {f"deny_{name}" for names in package.get("exception", []) for name in names}
        rules = [r for r in package if r.startswith("deny") and r not in excepted]
        return sorted(m for r in rules for m in package[r])
    payload = {
        "resource": doc,
        "observed": None,
        "change": None,
        "revision": None,
        "parameters": spec.get("parameters", {}),
    }
    rego.set_input_json(json.dumps(payload))
    return sorted(rego.eval_rule(f"data.{policy}.deny"))


def test_strict_and_gradual_bindings_deny_nothing() -> None:
    for name, spec in bindings().items():
        if spec.get("enforcement", "strict") in ("strict", "gradual"):
            assert (name, findings(name)) == (name, {})


def test_advisory_binding_warns_about_redis_cache() -> None:
    assert findings("container-limits") == {
        "redis-cache": [
            'Deployment storefront/redis-cache: container "redis" has no cpu limit',
            'Deployment storefront/redis-cache: container "redis" has no memory limit',
        ]
    }


def test_monitor_binding_records_storefront_web() -> None:
    assert findings("replica-bounds") == {
        "storefront-web": [
            "Deployment storefront/storefront-web runs 1 replica(s); at least 2 are expected"
        ]
    }


def test_legacy_reporting_needs_its_exception() -> None:
    assert findings("require-owner-labels", with_exceptions=False) == {
        "legacy-reporting": [
            'Deployment reporting/legacy-reporting is missing the required label "owner"',
            'Deployment reporting/legacy-reporting is missing the required label "team"',
        ]
    }


def test_node_exporter_needs_the_conftest_exception() -> None:
    rego = policy_engine()
    node_exporter = next(
        d for _, _, d in documents("resources") if d["metadata"]["name"] == "node-exporter"
    )
    rego.set_input_json(json.dumps(node_exporter))
    assert rego.eval_rule("data.k8s.privileged.deny_host_namespaces") == [
        "DaemonSet monitoring/node-exporter: pods share the host's namespaces (hostNetwork)",
        "DaemonSet monitoring/node-exporter: pods share the host's namespaces (hostPID)",
    ]
    assert rego.eval_rule("data.k8s.privileged.exception") == [["host_namespaces"]]


def test_gatekeeper_constraint_allows_every_workload_pod() -> None:
    rego = policy_engine()
    constraint = next(d for _, _, d in documents("policies") if d["kind"] == "K8sAllowedRepos")
    checked = []
    for _, _, doc in documents("resources"):
        spec = pod_spec(doc)
        if spec is None:
            continue
        pod = {"kind": "Pod", "metadata": doc["metadata"], "spec": spec}
        review = {"review": {"object": pod}, "parameters": constraint["spec"]["parameters"]}
        rego.set_input_json(json.dumps(review))
        assert rego.eval_rule("data.k8sallowedrepos.violation") == []
        checked.append(doc["metadata"]["name"])
    assert len(checked) == 6


def pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    spec = doc.get("spec", {})
    if doc["kind"] == "CronJob":
        return dict(spec["jobTemplate"]["spec"]["template"]["spec"])
    template = spec.get("template")
    return dict(template["spec"]) if isinstance(template, dict) else None


# --- The example exec provider ---


def call_provider(request: Any, *, state: Path) -> tuple[int, Any]:
    done = subprocess.run(
        [sys.executable, str(PROVIDER)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        env={**os.environ, "RECONCILER_EXAMPLE_STATE_DIR": str(state)},
        timeout=30,
        check=False,
    )
    return done.returncode, json.loads(done.stdout)


def web_service() -> dict[str, Any]:
    return next(d for _, _, d in documents("resources") if d["kind"] == "ExecResource")


def test_provider_observe_apply_delete(tmp_path: Path) -> None:
    resource = web_service()
    assert call_provider({"action": "observe", "resource": resource}, state=tmp_path) == (
        0,
        {"observed": None},
    )
    assert call_provider({"action": "apply", "resource": resource}, state=tmp_path) == (
        0,
        {"ok": True},
    )
    assert (
        json.loads((tmp_path / "services" / "web-service.json").read_text())
        == resource["spec"]["desired"]
    )
    assert call_provider({"action": "observe", "resource": resource}, state=tmp_path) == (
        0,
        {"observed": {"port": 8080, "replicas": 2, "version": "1.4.0", "cpu": 1.0}},
    )
    assert call_provider({"action": "delete", "resource": resource}, state=tmp_path) == (
        0,
        {"ok": True},
    )
    assert call_provider({"action": "delete", "resource": resource}, state=tmp_path) == (
        0,
        {"ok": True},
    )
    assert call_provider({"action": "observe", "resource": resource}, state=tmp_path) == (
        0,
        {"observed": None},
    )


def test_provider_reports_errors(tmp_path: Path) -> None:
    resource = web_service()
    bad = {**resource, "spec": {**resource["spec"], "desired": {"port": 70000}}}
    assert call_provider({"action": "apply", "resource": bad}, state=tmp_path) == (
        1,
        {"error": "spec.desired.port must be between 1 and 65535"},
    )
    assert call_provider({"action": "restart", "resource": resource}, state=tmp_path) == (
        1,
        {"error": "unknown action 'restart'; expected one of observe, apply, delete"},
    )
    assert not (tmp_path / "services").exists()


def test_provider_script_is_executable() -> None:
    assert os.access(PROVIDER, os.X_OK)
    assert PROVIDER.read_text().startswith("#!/usr/bin/env python3\n")
