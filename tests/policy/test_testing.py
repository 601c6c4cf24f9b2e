"""`reconciler test`'s engine: discovery, outcomes, errors, coverage and rendering."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import pytest

from reconciler import clock
from reconciler.policy import testing
from reconciler.specs.models import RegoVersion
from reconciler.specs.snapshot import Document, RegoFile

POLICY = """package k8s.labels

import rego.v1

deny contains msg if {
	not input.metadata.labels.owner
	msg := "missing owner"
}

deny contains msg if {
	input.metadata.labels.owner == "nobody"
	msg := "owner nobody"
}
"""

TESTS = """package k8s.labels_test

import rego.v1

import data.k8s.labels

test_missing_owner if {
	labels.deny == {"missing owner"} with input as {"metadata": {"labels": {}}}
}

test_owner_present if {
	count(labels.deny) == 0 with input as {"metadata": {"labels": {"owner": "alice"}}}
}

test_wrong_message if {
	labels.deny == {"something else"} with input as {"metadata": {"labels": {}}}
}

test_false := false

test_crypto if {
	crypto.sha256("x") == "y"
}

test_prints if {
	print("checking", 42)
}

todo_test_later if {
	false
}

helper(x) := x
"""


def run(*files: RegoFile, **kwargs: object) -> testing.TestReport:
    options: dict[str, object] = {"data": {}, "builtin_dir": None, "clock": clock.ManualClock()}
    options.update(kwargs)
    return testing.run_tests(list(files), **options)  # type: ignore[arg-type]


def by_name(report: testing.TestReport) -> dict[str, testing.TestResult]:
    return {r.name: r for r in report.results}


@pytest.fixture
def report() -> testing.TestReport:
    return run(
        RegoFile(path="policies/labels.rego", text=POLICY),
        RegoFile(path="policies/labels_test.rego", text=TESTS),
    )


def test_outcomes_are_counted(report: testing.TestReport) -> None:
    counts = {o: report.count(o) for o in testing.TestOutcome}
    assert counts == {
        testing.TestOutcome.PASS: 3,
        testing.TestOutcome.FAIL: 2,
        testing.TestOutcome.ERROR: 1,
        testing.TestOutcome.SKIP: 1,
    }
    assert report.total == 7
    assert not report.ok


def test_each_result_names_its_rule_file_and_line(report: testing.TestReport) -> None:
    wrong = by_name(report)["test_wrong_message"]
    assert (wrong.package, wrong.rule, wrong.path, wrong.line) == (
        "k8s.labels_test",
        "data.k8s.labels_test.test_wrong_message",
        "policies/labels_test.rego",
        15,
    )
    assert wrong.outcome is testing.TestOutcome.FAIL
    assert by_name(report)["test_false"].outcome is testing.TestOutcome.FAIL
    assert "helper" not in by_name(report)


def test_missing_builtin_is_an_error_naming_it(report: testing.TestReport) -> None:
    crypto = by_name(report)["test_crypto"]
    assert crypto.outcome is testing.TestOutcome.ERROR
    assert crypto.message == (
        "policies/labels_test.rego:22: builtin crypto.sha256 is not available in the embedded"
        " Rego engine (regorus); rewrite the rule without it"
    )


def test_render_text_lists_failures_then_counts(report: testing.TestReport) -> None:
    assert testing.render_text(report).splitlines() == [
        "policies/labels_test.rego: data.k8s.labels_test.test_wrong_message: FAIL",
        "policies/labels_test.rego: data.k8s.labels_test.test_false: FAIL",
        "policies/labels_test.rego: data.k8s.labels_test.test_crypto: ERROR",
        "  policies/labels_test.rego:22: builtin crypto.sha256 is not available in the embedded"
        " Rego engine (regorus); rewrite the rule without it",
        "-" * 80,
        "PASS: 3/7",
        "FAIL: 2/7",
        "ERROR: 1/7",
        "SKIP: 1/7",
    ]


def test_verbose_lists_every_test_with_duration_and_prints() -> None:
    tests = RegoFile(path="policies/labels_test.rego", text=TESTS)
    report = run(RegoFile(path="policies/labels.rego", text=POLICY), tests, verbose=True)
    lines = testing.render_text(report, verbose=True).splitlines()
    assert lines[:4] == [
        "policies/labels_test.rego: data.k8s.labels_test.test_missing_owner: PASS (0µs)",
        "policies/labels_test.rego: data.k8s.labels_test.test_owner_present: PASS (0µs)",
        "policies/labels_test.rego: data.k8s.labels_test.test_wrong_message: FAIL (0µs)",
        "policies/labels_test.rego: data.k8s.labels_test.test_false: FAIL (0µs)",
    ]
    assert "policies/labels_test.rego: data.k8s.labels_test.test_prints: PASS (0µs)" in lines
    assert "  policies/labels_test.rego:26: checking 42" in lines
    assert "policies/labels_test.rego: data.k8s.labels_test.todo_test_later: SKIP (0µs)" in lines


def test_prints_of_passing_tests_are_dropped_unless_verbose(report: testing.TestReport) -> None:
    assert by_name(report)["test_prints"].output == ()


def test_syntax_error_is_reported_with_file_and_line_and_other_tests_run() -> None:
    text = "package broken\n\nallow if {\n  input.x ==\n}\n"
    broken = RegoFile(path="policies/broken.rego", text=text)
    report = run(broken, RegoFile(path="policies/ok_test.rego", text=_OK_TEST))
    assert testing.render_text(report).splitlines()[0] == (
        "policies/broken.rego:5: ERROR: expecting expression"
    )
    assert [(r.name, r.outcome) for r in report.results] == [
        ("", testing.TestOutcome.ERROR),
        ("test_ok", testing.TestOutcome.PASS),
    ]
    assert report.results[0].package == "broken"


def test_module_failing_whole_program_checks_is_left_out() -> None:
    text = "package unsafe\n\nimport rego.v1\n\nallow if {\n\ty == 1\n}\n"
    unsafe = RegoFile(path="policies/unsafe.rego", text=text)
    report = run(RegoFile(path="policies/ok_test.rego", text=_OK_TEST), unsafe)
    assert [(r.path, r.line, r.outcome, r.message) for r in report.results] == [
        ("policies/unsafe.rego", 6, ERROR, "use of undefined variable `y` is unsafe"),
        ("policies/ok_test.rego", 5, testing.TestOutcome.PASS, ""),
    ]


def test_v0_modules_and_bracketed_packages_are_discovered() -> None:
    text = 'package old["v0-tests"]\n\ntest_v0 { 1 == 1 }\n'
    v0 = RegoFile(path="policies/old_test.rego", text=text)
    report = run(v0)
    assert [(r.rule, r.outcome) for r in report.results] == [
        ('data.old["v0-tests"].test_v0', testing.TestOutcome.PASS)
    ]


def test_data_is_visible_to_tests() -> None:
    text = 'package d_test\n\nimport rego.v1\n\ntest_teams if data.teams[0].name == "payments"\n'
    teams = {"teams": [{"name": "payments"}]}
    report = run(RegoFile(path="policies/d_test.rego", text=text), data=teams)
    assert report.ok and report.total == 1


def test_builtin_library_tests_run_only_when_asked(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "strs.rego").write_text(
        "package lib.strs\n\nimport rego.v1\n\nshout(s) := upper(s)\n"
    )
    (tmp_path / "lib" / "strs_test.rego").write_text(
        'package lib.strs_test\n\nimport rego.v1\n\ntest_shout if data.lib.strs.shout("a") == "A"\n'
    )
    user = RegoFile(
        path="policies/use_test.rego",
        text='package use_test\n\nimport rego.v1\n\ntest_lib if data.lib.strs.shout("b") == "B"\n',
    )
    default = run(user, builtin_dir=tmp_path)
    assert [r.rule for r in default.results] == ["data.use_test.test_lib"]
    everything = run(user, builtin_dir=tmp_path, include_builtin_tests=True)
    assert [(r.path, r.outcome) for r in everything.results] == [
        ("rego/lib/strs_test.rego", testing.TestOutcome.PASS),
        ("policies/use_test.rego", testing.TestOutcome.PASS),
    ]


COVERED = """package cov

import rego.v1

allow if {
	input.user == "admin"
}

deny if {
	input.user == "guest"
}
"""


def test_coverage_of_policy_modules() -> None:
    test = RegoFile(
        path="policies/cov_test.rego",
        text="package cov_test\n\nimport rego.v1\n\n"
        'test_admin if data.cov.allow with input as {"user": "admin"}\n',
    )
    report = run(RegoFile(path="policies/cov.rego", text=COVERED), test, coverage=True)
    assert report.coverage == (
        testing.FileCoverage(path="policies/cov.rego", covered=(6,), not_covered=(10,)),
    )
    assert report.coverage_percent == 50.0
    assert testing.render_text(report).splitlines()[-2:] == [
        "Coverage: 50.00%",
        "  policies/cov.rego: 50.00% (1/2 lines) not covered: 10",
    ]


def test_no_coverage_unless_asked(report: testing.TestReport) -> None:
    assert report.coverage is None
    assert report.as_json()["coverage"] is None


def test_as_json(report: testing.TestReport) -> None:
    answer = report.as_json()
    assert answer["ok"] is False
    assert answer["counts"] == {"pass": 3, "fail": 2, "error": 1, "skip": 1, "total": 7}
    assert answer["results"][0] == {
        "package": "k8s.labels_test",
        "name": "test_missing_owner",
        "rule": "data.k8s.labels_test.test_missing_owner",
        "path": "policies/labels_test.rego",
        "line": 7,
        "outcome": "PASS",
        "message": "",
        "durationSeconds": 0.0,
        "output": [],
    }


def test_no_tests() -> None:
    report = run(RegoFile(path="policies/labels.rego", text=POLICY))
    assert report.ok
    assert testing.render_text(report) == "no tests found"


def test_constraint_template_rego_becomes_a_module() -> None:
    rego = 'package k8sdemo\n\nviolation[{"msg": "no"}] {\n  input.review.object.bad\n}\n'
    doc = Document(
        path="policies/demo.yaml",
        line=1,
        index=0,
        api_version="templates.gatekeeper.sh/v1",
        kind="ConstraintTemplate",
        name="k8sdemo",
        namespace=None,
        labels=MappingProxyType({}),
        body={"spec": {"targets": [{"target": "admission.k8s.gatekeeper.sh", "rego": rego}]}},
    )
    modules = testing.template_modules([doc])
    assert modules == [
        RegoFile(path="policies/demo.yaml#spec.targets[0].rego", text=rego, version=RegoVersion.V0)
    ]
    test = RegoFile(
        path="policies/demo_test.rego",
        text="package demo_test\n\nimport rego.v1\n\n"
        "test_bad if count(data.k8sdemo.violation) == 1\n"
        '\twith input as {"review": {"object": {"bad": true}}}\n',
    )
    assert run(*modules, test).ok


ERROR = testing.TestOutcome.ERROR
_OK_TEST = "package ok_test\n\nimport rego.v1\n\ntest_ok if true\n"
