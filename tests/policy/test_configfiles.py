"""conftest's file builtins in `reconciler test`: repository files only, paths from the test's
folder, beside the tests that read them without being taken for specs."""

from __future__ import annotations

from pathlib import Path

from reconciler.policy import configfiles, testing
from reconciler.source import tree
from reconciler.specs import loader
from tests.policy.conftest import NO_BUILTINS

DEPLOYMENT = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
    "spec: {selector: {matchLabels: {app: web}}}\n"
)
SERVICE = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {selector: {app: web}}\n"
POLICY = """package main
import rego.v1

unmatched contains name if {
    some doc in input
    doc.contents.kind == "Deployment"
    name := doc.contents.metadata.name
    not selected(doc.contents.spec.selector.matchLabels.app)
}

selected(app) if {
    some doc in input
    doc.contents.kind == "Service"
    doc.contents.spec.selector.app == app
}
"""
TESTS = """package main
import rego.v1

test_combined_in_one_file if {
    docs := parse_combined_config_files(["both.yaml"])
    [d.path | some d in docs] == ["policies/svc/both.yaml", "policies/svc/both.yaml"]
    count(unmatched) == 0 with input as docs
}

test_combined_from_two_files if {
    count(unmatched) == 1 with input as parse_combined_config_files(["deployment.yaml"])
    both := ["deployment.yaml", "service.yaml"]
    count(unmatched) == 0 with input as parse_combined_config_files(both)
}

test_one_file if {
    parse_config_file("service.yaml").kind == "Service"
    parse_config_file("data/extra.json").tier == "web"
}

test_text if {
    parse_config("json", `{"a": [1]}`) == {"a": [1]}
    parse_config("toml", "a = 1") == {"a": 1}
    count(parse_config("yaml", "a: 1\\n---\\nb: 2\\n")) == 2
}

test_outside_the_repository if {
    parse_config_file("../../../etc/passwd")
}

test_missing if {
    parse_config_file("nothing.yaml")
}
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def repository(root: Path) -> Path:
    return write(
        root,
        {
            "policies/svc/svc.rego": POLICY,
            "policies/svc/svc_test.rego": TESTS,
            "policies/svc/deployment.yaml": DEPLOYMENT,
            "policies/svc/service.yaml": SERVICE,
            "policies/svc/both.yaml": DEPLOYMENT + "---\n" + SERVICE,
            "policies/svc/data/extra.json": '{"tier": "web"}',
        },
    )


def test_the_builtins_read_files_beside_the_test(tmp_path: Path) -> None:
    files = tree.DirectoryTree(repository(tmp_path))
    snapshot = loader.load(files)
    assert snapshot.problems == ()
    report = testing.run_tests(
        testing.snapshot_modules(snapshot),
        data=snapshot.data,
        builtin_dir=NO_BUILTINS,
        files=configfiles.tree_reader(files),
    )
    outcomes = {r.name: (r.outcome.value, r.message.split(": ", 1)[-1]) for r in report.results}
    assert outcomes == {
        "test_combined_in_one_file": ("PASS", ""),
        "test_combined_from_two_files": ("PASS", ""),
        "test_one_file": ("PASS", ""),
        "test_text": ("PASS", ""),
        "test_outside_the_repository": ("ERROR", outcomes["test_outside_the_repository"][1]),
        "test_missing": ("ERROR", outcomes["test_missing"][1]),
    }
    assert (
        "../../../etc/passwd: leaves the repository" in outcomes["test_outside_the_repository"][1]
    )
    assert (
        "policies/svc/nothing.yaml: no such file in the repository" in outcomes["test_missing"][1]
    )


def test_without_a_reader_the_builtins_are_not_defined(tmp_path: Path) -> None:
    snapshot = loader.load(tree.DirectoryTree(repository(tmp_path)))
    report = testing.run_tests(
        testing.snapshot_modules(snapshot), data=snapshot.data, builtin_dir=NO_BUILTINS
    )
    assert {r.outcome.value for r in report.results} == {"ERROR"}


def test_other_documents_in_policies_are_still_problems(tmp_path: Path) -> None:
    root = repository(tmp_path)
    write(root, {"policies/other/service.yaml": SERVICE})
    problems = [str(p) for p in loader.load(tree.DirectoryTree(root)).problems]
    assert problems == [
        "policies/other/service.yaml:2 kind: "
        "must be PolicyBinding, a Gatekeeper ConstraintTemplate or a constraint here"
    ]


def test_bindings_beside_tests_are_still_checked(tmp_path: Path) -> None:
    root = repository(tmp_path)
    binding = "apiVersion: reconciler.dev/v1\nkind: PolicyBinding\nmetadata: {name: b}\nspec: {}\n"
    write(root, {"policies/svc/binding.yaml": binding})
    problems = [str(p) for p in loader.load(tree.DirectoryTree(root)).problems]
    assert len(problems) == 1 and problems[0].startswith("policies/svc/binding.yaml:4 spec.policy")
