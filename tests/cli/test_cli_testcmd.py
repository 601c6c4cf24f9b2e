"""`reconciler test` on the example repository: every test passes, a failing test names
its rule, coverage is reported, and the JSON report follows docs/cli.md."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests import gitrepo
from tests.cli.conftest import Cli, assert_documented_shape

RULER = "-" * 80
ONE_TEST = """\
package k8s.replicas_test

import rego.v1

import data.k8s.replicas

test_three_replicas_are_fine if {
	count(replicas.deny) == 0 with input as {"resource": {"kind": "Deployment",
		"metadata": {"name": "web"}, "spec": {"replicas": 3}}}
}
"""


def count_tests(repo: Path) -> int:
    """`test_` rules in the repository's test files, counted from their text."""
    rule = re.compile(r"^test_\w+", re.MULTILINE)
    return sum(len(rule.findall(p.read_text())) for p in repo.rglob("*_test.rego"))


def test_the_example_tests_pass(cli: Cli, shared_example: Path) -> None:
    n = count_tests(shared_example)
    assert n >= 20
    done = cli("test", shared_example)
    assert (done.code, done.err) == (0, "")
    assert done.lines == [RULER, f"PASS: {n}/{n}"]


def test_verbose_lists_every_test(cli: Cli, shared_example: Path) -> None:
    n = count_tests(shared_example)
    done = cli("test", shared_example, "-v")
    passed = [line for line in done.lines if line.endswith(")") and ": PASS (" in line]
    assert len(passed) == n
    assert any(
        line.startswith(
            "policies/k8s/replicas_test.rego: data.k8s.replicas_test.test_within_bounds: PASS ("
        )
        for line in passed
    )


def test_a_failing_test_names_its_rule(cli: Cli, example: Path) -> None:
    n = count_tests(example)
    name = "policies/k8s/replicas_test.rego"
    failing = (example / name).read_text() + "\ntest_one_is_two if {\n\t1 == 2\n}\n"
    gitrepo.commit(example, {name: failing})
    for where in (["test", example], ["test", "--repo", example]):
        done = cli(*where)
        assert done.code == 1
        assert done.lines == [
            "policies/k8s/replicas_test.rego: data.k8s.replicas_test.test_one_is_two: FAIL",
            RULER,
            f"PASS: {n}/{n + 1}",
            f"FAIL: 1/{n + 1}",
        ]


def test_coverage_names_the_lines_no_test_reaches(cli: Cli, example: Path) -> None:
    (example / "policies/k8s/replicas_test.rego").write_text(ONE_TEST)
    n = count_tests(example)
    done = cli("test", example, "--coverage")
    assert done.code == 0
    assert done.lines == [
        RULER,
        f"PASS: {n}/{n}",
        RULER,
        "Coverage: 95.92%",
        "  policies/decisions/remediation.rego: 100.00% (8/8 lines)",
        "  policies/gatekeeper/k8sallowedrepos-template.yaml#spec.targets[0].rego:"
        " 100.00% (10/10 lines)",
        "  policies/k8s/container_limits.rego: 100.00% (26/26 lines)",
        "  policies/k8s/images.rego: 100.00% (11/11 lines)",
        "  policies/k8s/privileged.rego: 100.00% (14/14 lines)",
        "  policies/k8s/replicas.rego: 60.00% (6/10 lines) not covered: 13, 16, 19, 22",
        "  policies/k8s/required_labels.rego: 100.00% (14/14 lines)",
        "  policies/services/replica_ceiling.rego: 100.00% (5/5 lines)",
    ]


def test_json_report(cli: Cli, shared_example: Path) -> None:
    n = count_tests(shared_example)
    done = cli("test", shared_example, "--format", "json")
    assert done.code == 0
    report = json.loads(done.out)
    assert_documented_shape(report, name="test")
    assert report["ok"] is True
    assert report["counts"] == {"pass": n, "fail": 0, "error": 0, "skip": 0, "total": n}
    assert report["coverage"] is None
    assert len(report["results"]) == n
    first = report["results"][0]
    assert {k: first[k] for k in ("package", "name", "rule", "path", "outcome")} == {
        "package": "reconciler.decisions.remediation_test",
        "name": "test_scaling_back_waits_for_an_operator_by_default",
        "rule": "data.reconciler.decisions.remediation_test"
        ".test_scaling_back_waits_for_an_operator_by_default",
        "path": "policies/decisions/remediation_test.rego",
        "outcome": "PASS",
    }
    assert isinstance(first["line"], int) and isinstance(first["durationSeconds"], float)


def test_json_report_with_a_failure_and_coverage(cli: Cli, example: Path) -> None:
    path = example / "policies/k8s/replicas_test.rego"
    path.write_text(ONE_TEST + "\ntest_one_is_two if {\n\t1 == 2\n}\n")
    done = cli("test", example, "--format", "json", "--coverage")
    report = json.loads(done.out)
    assert_documented_shape(report, name="test")
    assert (done.code, report["ok"], report["counts"]["fail"]) == (1, False, 1)
    failed = [r for r in report["results"] if r["outcome"] == "FAIL"]
    assert [(r["rule"], r["path"], r["line"]) for r in failed] == [
        ("data.k8s.replicas_test.test_one_is_two", "policies/k8s/replicas_test.rego", 12)
    ]
    files = {f["path"]: f for f in report["coverage"]["files"]}
    assert files["policies/k8s/replicas.rego"]["notCovered"] == [13, 16, 19, 22]
    assert report["coverage"]["percent"] == 95.92
