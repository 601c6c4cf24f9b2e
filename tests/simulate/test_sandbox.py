"""Head policies that never finish or eat memory: the sandbox dies, the report says why,
the sections computed before are kept, and the caller never hangs."""

from __future__ import annotations

import pytest

from reconciler.simulate.records import Issue
from reconciler.simulate.settings import SimulateSettings
from tests.simulate.conftest import PullRequest

BINDING = """\
apiVersion: reconciler.dev/v1
kind: PolicyBinding
metadata: {name: runaway}
spec: {policy: org.runaway, scope: {kinds: [Deployment]}}
"""
RECURSION = """\
package org.runaway

import rego.v1

f(x) := f(x)

deny contains msg if {
	msg := f(input.resource.metadata.name)
}
"""
BUSY = """\
package org.runaway

import rego.v1

deny contains msg if {
	n := count([1 | some x in numbers.range(1, 100000); some y in numbers.range(1, 100000); x == y])
	msg := sprintf("%d", [n])
}
"""
HUGE = """\
package org.runaway

import rego.v1

deny contains msg if {
	n := count(numbers.range(1, 100000000000))
	msg := sprintf("%d", [n])
}
"""
LATER = (
    Issue(section="tests", message="not run: an earlier stage failed", blocking=False),
    Issue(section="replay", message="not run: an earlier stage failed", blocking=False),
)


def test_infinite_recursion_is_reported_and_earlier_sections_are_kept(pr: PullRequest) -> None:
    pr.change({"policies/org/runaway.rego": RECURSION, "policies/org/runaway.yaml": BINDING})
    report = pr.simulate()
    assert report.errors == (
        Issue(
            section="decisions",
            message="head policies could not be evaluated: the policy "
            "engine overflowed its stack (SIGSEGV): a rule or function that calls itself "
            "without end?",
        ),
        *LATER,
    )
    assert report.decisions is None and report.tests is None
    assert report.problems is not None and report.problems.at_head == ()
    assert [(p.kind, p.name) for p in report.policies] == [
        ("package", "org.runaway"),
        ("binding", "runaway"),
    ]
    assert report.plan is not None
    assert report.blocked


def test_a_policy_that_computes_forever_hits_the_cpu_limit(pr: PullRequest) -> None:
    pr.change({"policies/org/runaway.rego": BUSY, "policies/org/runaway.yaml": BINDING})
    report = pr.simulate(settings=SimulateSettings(cpu_seconds=1, wall_seconds=60))
    assert report.errors == (
        Issue(
            section="decisions",
            message="head policies could not be evaluated: exceeded the 1 s CPU limit",
        ),
        *LATER,
    )
    assert report.blocking_reasons() == [
        "decisions: head policies could not be evaluated: exceeded the 1 s CPU limit"
    ]


def test_a_policy_that_explodes_in_memory_hits_the_memory_limit(pr: PullRequest) -> None:
    pr.change({"policies/org/runaway.rego": HUGE, "policies/org/runaway.yaml": BINDING})
    report = pr.simulate(settings=SimulateSettings(memory_mib=2048))
    assert report.errors == (
        Issue(
            section="decisions",
            message="head policies could not be evaluated: exceeded the 2048 MiB memory limit",
        ),
        *LATER,
    )


def test_the_wall_clock_limit_kills_the_sandbox(pr: PullRequest) -> None:
    pr.change({"policies/org/runaway.rego": BUSY, "policies/org/runaway.yaml": BINDING})
    report = pr.simulate(settings=SimulateSettings(cpu_seconds=120, wall_seconds=3))
    first = report.errors[0]
    # Loading usually ends well within the limit; a slow machine may be killed while loading.
    assert (first.section, first.message) in {
        ("decisions", "head policies could not be evaluated: exceeded the 3 s time limit"),
        ("load", "the revisions could not be loaded: exceeded the 3 s time limit"),
    }
    assert report.blocked


@pytest.mark.parametrize("text", [RECURSION])
def test_rego_tests_that_recurse_fail_the_test_stage_only(pr: PullRequest, text: str) -> None:
    test = text.replace("package org.runaway", "package org.runaway_test").replace(
        "deny contains msg if {\n\tmsg := f(input.resource.metadata.name)\n}",
        'test_loops if {\n\tf("x") == "y"\n}',
    )
    pr.change({"policies/org/runaway_test.rego": test})
    report = pr.simulate()
    assert report.decisions is not None  # evaluated before the tests ran
    assert [e.section for e in report.errors] == ["tests", "replay"]
    assert report.errors[0].message.startswith(
        "Rego tests at head could not be run: the policy engine overflowed its stack"
    )
