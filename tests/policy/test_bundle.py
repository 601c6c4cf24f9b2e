"""Compiling a revision's policies: problems with file and line, policies found, threads."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from reconciler.clock import ManualClock
from reconciler.policy import bundle, evaluate
from reconciler.policy.decisions import Outcome
from tests.policy.conftest import FIXTURES, NO_BUILTINS, make_snapshot

CONV = """\
package k8s.conv
import rego.v1

deny contains "d" if input.spec.bad
deny_owner contains "o" if not input.metadata.labels.owner
violation contains {"msg": "v"} if false
warn_team contains "t" if false
exception contains ["owner"] if false
helper := 1
general_violation contains "not a decision rule" if true
"""
LABELS = "package k8s.required_labels\nimport rego.v1\n\ndeny contains 1 if false\n"
BINDING = """\
apiVersion: reconciler.dev/v1
kind: PolicyBinding
metadata: {name: nope}
spec: {policy: k8s.nope}
"""


def compile_files(files: dict[str, str], builtin_dir: Path = NO_BUILTINS) -> bundle.Bundle:
    return bundle.compile(make_snapshot(files), builtin_dir=builtin_dir)


def test_policies_and_their_decision_rules_are_found() -> None:
    compiled = compile_files({"policies/conv.rego": CONV, "policies/labels.rego": LABELS})
    assert compiled.problems == ()
    assert compiled.policies == {
        "k8s.conv": bundle.PolicyInfo(
            package="k8s.conv",
            paths=("policies/conv.rego",),
            rules=("deny", "deny_owner", "exception", "violation", "warn_team"),
        ),
        "k8s.required_labels": bundle.PolicyInfo(
            package="k8s.required_labels", paths=("policies/labels.rego",), rules=("deny",)
        ),
    }


def test_rego_syntax_error_is_a_problem_with_file_and_line() -> None:
    broken = "package x\nimport rego.v1\n\ndeny contains msg if {\n  msg = [\n}\n"
    compiled = compile_files({"policies/x.rego": broken, "policies/labels.rego": LABELS})
    assert [str(p) for p in compiled.problems] == [
        "policies/x.rego:5: expecting `}` while parsing set"
    ]
    assert list(compiled.policies) == ["k8s.required_labels"]


def test_binding_naming_a_missing_policy_is_a_problem() -> None:
    files = {
        "policies/conv.rego": CONV,
        "policies/labels.rego": LABELS,
        "policies/bindings.yaml": "# bindings\n---\n" + BINDING,
    }
    compiled = compile_files(files)
    assert [str(p) for p in compiled.problems] == [
        'policies/bindings.yaml:3 spec.policy: policy "k8s.nope" not found'
        " (known: k8s.conv, k8s.required_labels)"
    ]
    assert compiled.bindings == ()


def test_duplicate_packages_are_recorded_and_merged() -> None:
    files = {
        "policies/a.rego": LABELS,
        "policies/b.rego": LABELS.replace("deny contains 1", "warn contains 2"),
    }
    compiled = compile_files(files)
    assert compiled.problems == ()
    assert compiled.duplicates == (
        bundle.DuplicatePackage(
            package="k8s.required_labels", paths=("policies/a.rego", "policies/b.rego")
        ),
    )
    assert compiled.policies["k8s.required_labels"].rules == ("deny", "warn")


def test_builtin_library_is_loaded_without_its_tests(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "names.rego").write_text(
        'package lib.names\nimport rego.v1\n\nprefixed(n) := concat("-", ["x", n])\n'
    )
    (tmp_path / "lib" / "names_test.rego").write_text("package lib.names\nthis is not rego\n")
    user = (
        "package k8s.p\nimport rego.v1\nimport data.lib.names\n\n"
        "deny contains names.prefixed(input.metadata.name) if true\n"
    )
    files = {
        "policies/p.rego": user,
        "policies/p_test.rego": "not rego either",
        "policies/b.yaml": BINDING.replace("k8s.nope", "k8s.p").replace(
            "spec: {", "spec: {input: conftest, "
        ),
        "resources/r.yaml": json.dumps(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}}
        ),
    }
    snapshot = make_snapshot(files)
    compiled = bundle.compile(snapshot, builtin_dir=tmp_path)
    assert compiled.problems == ()
    assert [m.path for m in compiled.modules] == ["rego/lib/names.rego", "policies/p.rego"]
    decisions = evaluate.Evaluator(compiled, clock=ManualClock(), revision=None).evaluate_all(
        snapshot
    )
    assert [d.messages for d in decisions] == [("x-cm",)]


def test_gatekeeper_problems_name_the_template_and_constraint() -> None:
    template = (FIXTURES / "requiredlabels-template.yaml").read_text()
    broken = template.replace("count(missing) > 0", "count(missing) >")
    nameless = template.replace("kind: K8sRequiredLabels", "kind: ''")
    files = {
        "policies/a.yaml": broken,
        "policies/b.yaml": nameless,
        "policies/c.yaml": "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sNothing\n"
        "metadata: {name: x}\nspec: {}\n---\napiVersion: constraints.gatekeeper.sh/v1beta1\n"
        "kind: K8sRequiredLabels\nmetadata: {name: y}\nspec: {enforcementAction: block}\n",
    }
    assert [str(p) for p in compile_files(files).problems] == [
        "policies/b.yaml:1 spec.crd.spec.names.kind: is required",
        "policies/c.yaml:6 spec.enforcementAction: must be one of deny, warn, dryrun, not 'block'",
        "policies/a.yaml:1 spec.targets[0].rego: line 17 of the Rego:"
        " expecting `}` while parsing query",
        'policies/c.yaml:1 kind: no ConstraintTemplate defines kind "K8sNothing"',
    ]


def test_a_bundle_works_from_a_second_thread() -> None:
    files = {
        "policies/labels.rego": LABELS.replace("1 if false", '"no" if true'),
        "policies/b.yaml": BINDING.replace("k8s.nope", "k8s.required_labels"),
        "resources/r.yaml": json.dumps(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}}
        ),
    }
    snapshot = make_snapshot(files)
    compiled = bundle.compile(snapshot, builtin_dir=NO_BUILTINS)
    results: dict[str, object] = {}

    def work(name: str) -> None:
        try:
            evaluator = evaluate.Evaluator(compiled, clock=ManualClock(), revision=None)
            results[name] = [d.outcome for d in evaluator.evaluate_all(snapshot)]
        except BaseException as exc:  # a PanicException is a BaseException
            results[name] = exc

    threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    work("main")
    assert results == {"t0": [Outcome.DENY], "t1": [Outcome.DENY], "main": [Outcome.DENY]}
