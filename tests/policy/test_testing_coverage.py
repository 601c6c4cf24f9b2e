"""`reconciler test --coverage` counts policy files no test reaches, at 0%."""

from __future__ import annotations

from reconciler import clock
from reconciler.policy import testing
from reconciler.specs.snapshot import RegoFile

TESTED = """package tested

import rego.v1

allow if {
	input.user == "admin"
}
"""
UNTESTED = """package untested

import rego.v1

deny contains msg if {
	input.kind == "Deployment"
	msg := "no deployments"
}

limit := 3
"""
# A v0 module with a bracketed package name, also untested.
OLD = """package old["v0-rules"]

deny[msg] {
	contains(input.image, ":latest")
	msg := "latest"
}
"""
TEST = RegoFile(
    path="policies/tested_test.rego",
    text="package tested_test\n\nimport rego.v1\n\n"
    'test_admin if data.tested.allow with input as {"user": "admin"}\n',
)


def test_untested_policy_files_count_at_zero() -> None:
    report = testing.run_tests(
        [
            RegoFile(path="policies/tested.rego", text=TESTED),
            RegoFile(path="policies/untested.rego", text=UNTESTED),
            RegoFile(path="policies/old.rego", text=OLD),
            TEST,
        ],
        data={},
        builtin_dir=None,
        coverage=True,
        clock=clock.ManualClock(),
    )
    # The lines of an untested file are those regorus counts once it is evaluated: the
    # statements of rule bodies and the heads that compute a value or key.
    assert report.coverage == (
        testing.FileCoverage(path="policies/old.rego", covered=(), not_covered=(3, 4, 5)),
        testing.FileCoverage(path="policies/tested.rego", covered=(6,), not_covered=()),
        testing.FileCoverage(path="policies/untested.rego", covered=(), not_covered=(5, 6, 7, 10)),
    )
    assert report.coverage_percent == 12.5
    assert testing.render_text(report).splitlines()[-4:] == [
        "Coverage: 12.50%",
        "  policies/old.rego: 0.00% (0/3 lines) not covered: 3, 4, 5",
        "  policies/tested.rego: 100.00% (1/1 lines)",
        "  policies/untested.rego: 0.00% (0/4 lines) not covered: 5, 6, 7, 10",
    ]
