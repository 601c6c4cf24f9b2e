"""Scoring: rules as a Beta prior, history as evidence, and the choice they make."""

from __future__ import annotations

import pytest

from reconciler.decide.records import Option
from reconciler.decide.scoring import RuleScore, choose
from reconciler.specs.decisions import Weights

RESTART, SCALE, NOTHING = (
    Option("runbook", "restart"),
    Option("runbook", "scale"),
    Option("action", "nothing"),
)


def test_without_rules_or_history_every_option_is_neutral_and_the_first_wins() -> None:
    choice = choose([RESTART, SCALE], {}, {}, Weights())
    assert [s.combined for s in choice.scores] == [0.5, 0.5]
    assert choice.chosen == RESTART
    assert choice.margin == 0.0
    assert choice.evidence == 0.0


def test_a_rule_score_is_the_prior_mean_with_its_weight_in_outcomes() -> None:
    rules = {RESTART.name: RuleScore(0.8, ("safe off-hours",))}
    choice = choose([RESTART, SCALE], rules, {}, Weights(rules=4))
    assert choice.chosen == RESTART
    assert choice.confidence == pytest.approx(0.8)
    # four failures weigh as much as the rule: the mean halves its lead over 0.
    after = choose([RESTART, SCALE], rules, {RESTART.name: (0, 4)}, Weights(rules=4))
    assert after.scores[0].combined == pytest.approx(3.2 / 8)
    assert after.chosen == SCALE
    assert after.scores[0].rule_reasons == ("safe off-hours",)
    assert "0 of 4 recorded attempts" in after.scores[0].history_reason


def test_history_overrides_the_rules_as_evidence_grows() -> None:
    rules = {RESTART.name: RuleScore(0.9), SCALE.name: RuleScore(0.6)}
    few = choose([RESTART, SCALE], rules, {SCALE.name: (2, 1), RESTART.name: (1, 0)}, Weights())
    many = choose([RESTART, SCALE], rules, {SCALE.name: (95, 5), RESTART.name: (40, 60)}, Weights())
    assert few.chosen == RESTART
    assert many.chosen == SCALE
    assert many.confidence == pytest.approx((0.6 * 4 + 95) / 104)
    assert many.p_best > 0.99


def test_history_weight_zero_ignores_outcomes() -> None:
    rules = {RESTART.name: RuleScore(0.7)}
    choice = choose([RESTART, SCALE], rules, {RESTART.name: (0, 50)}, Weights(history=0))
    assert choice.chosen == RESTART
    assert choice.confidence == pytest.approx(0.7)


def test_confidence_grows_with_evidence_at_the_same_success_rate() -> None:
    confidences = [
        choose([RESTART], {}, {RESTART.name: (9 * n, n)}, Weights()).confidence
        for n in (1, 10, 100)
    ]
    assert confidences == sorted(confidences)
    assert confidences[-1] == pytest.approx(0.9, abs=0.01)


def test_a_rule_score_is_never_a_certainty() -> None:
    choice = choose([RESTART], {RESTART.name: RuleScore(1.0)}, {}, Weights())
    assert choice.confidence < 1.0


def test_the_same_inputs_and_seed_give_the_same_choice() -> None:
    args = ([RESTART, SCALE, NOTHING], {}, {RESTART.name: (3, 2), SCALE.name: (2, 1)}, Weights())
    assert choose(*args, seed=7) == choose(*args, seed=7)


def test_close_options_have_a_low_chance_of_being_really_the_best() -> None:
    close = choose([RESTART, SCALE], {}, {RESTART.name: (6, 4), SCALE.name: (5, 4)}, Weights())
    clear = choose([RESTART, SCALE], {}, {RESTART.name: (60, 4), SCALE.name: (5, 40)}, Weights())
    assert close.p_best < 0.7 < 0.99 < clear.p_best
    assert close.margin < clear.margin


def test_no_options_choose_nothing() -> None:
    choice = choose([], {}, {}, Weights())
    assert choice.chosen is None
    assert choice.confidence == 0.0
