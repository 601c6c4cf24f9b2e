"""The repository's decision rules, evaluated on real regorus: scores and reasons per
option, and every way a rule can be wrong reported rather than trusted."""

from __future__ import annotations

import pytest

from reconciler.decide import rules
from reconciler.decide.records import Context, Option
from reconciler.policy.rego import RegoEngine

RESTART, SCALE = Option("runbook", "restart"), Option("workflow", "scale")
CONTEXT = Context(type="remediation", subject="b/File//x", kind="File", window="off-hours")


def engine(body: str) -> RegoEngine:
    built = RegoEngine()
    built.add_module(
        "decisions.rego", f"package reconciler.decisions.remediation\nimport rego.v1\n{body}"
    )
    return built


def test_rules_score_options_from_the_context_with_reasons() -> None:
    scored = rules.evaluate(
        engine(
            """
score[o.name] := 0.9 if {
    some o in input.options
    o.target == "restart"
    input.context.window == "off-hours"
}
score[o.name] := 0.2 if { some o in input.options; o.kind == "workflow" }
reasons[o.name] contains "quiet hours" if { some o in input.options; o.target == "restart" }
reasons[o.name] contains "a deploy" if { some o in input.options; o.target == "restart" }
"""
        ),
        CONTEXT,
        [RESTART, SCALE],
    )
    assert scored == {
        RESTART.name: rules.RuleScore(0.9, ("a deploy", "quiet hours")),
        SCALE.name: rules.RuleScore(0.2, ()),
    }


def test_no_rules_for_the_type_score_nothing() -> None:
    other = RegoEngine()
    other.add_module("x.rego", "package reconciler.decisions.optimization\nscore := {}")
    assert rules.evaluate(other, CONTEXT, [RESTART]) == {}
    assert rules.evaluate(engine('reasons["x"] := ["y"]'), CONTEXT, [RESTART]) == {}


def test_scores_of_unknown_options_are_ignored() -> None:
    assert rules.evaluate(engine('score := {"runbook:other": 1}'), CONTEXT, [RESTART]) == {}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("score := 3", "score must be an object of option name to number"),
        (
            'score := {"runbook:restart": 1.5}',
            "score['runbook:restart'] must be a number in [0, 1]",
        ),
        (
            'score := {"runbook:restart": true}',
            "score['runbook:restart'] must be a number in [0, 1]",
        ),
        ('score := {"runbook:restart": 1 / 0}', "data.reconciler.decisions.remediation: "),
    ],
)
def test_a_wrong_rule_is_a_problem_naming_the_package(body: str, message: str) -> None:
    with pytest.raises(rules.RuleProblem) as caught:
        rules.evaluate(engine(body), CONTEXT, [RESTART])
    assert str(caught.value).startswith("data.reconciler.decisions.remediation")
    assert message.split(": ")[-1] in str(caught.value)
