"""The learner in optimization runs: when `optimization.learning.enabled`, it chooses which
of an optimizer's candidates to propose, and learns from how each proposal turned out.

A candidate is described to the learner (`learner.py`) by the figures of its row in the
trade-off table — `cost`, `performance`, `reliability` and a constant — so what one
subject's outcomes teach is about trade-offs, not about one value. Its choice and every
candidate's posterior mean and spread go into the change (`learner` in the proposal's
facts, `learnt` and `sd` columns in the trade-off table). When the regression test
settles a landed proposal, the outcome is fed back: the reward is minus the relative
change of the objective metric (worse is positive, `regression.Verdict.effect`) and minus
one more when it regressed. The learner of each subject is kept in the store as
`optimization/<subject>` and saved after every choice and every outcome, so a restarted
daemon continues from the same state and random position.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reconciler.optimize.learner import Learner
from reconciler.optimize.regression import Verdict
from reconciler.store.learners import Learners

FEATURES = ("bias", "cost", "performance", "reliability")


def choose(
    store: Learners,
    *,
    subject: str,
    candidates: Sequence[dict[str, float]],
    seed: int,
) -> tuple[int, dict[str, Any]]:
    """The index of the candidate the learner picks, and what to record of its choice."""
    learner = Learner.restore(store, name_of(subject), FEATURES, seed=seed)
    options = {str(i): features(c) for i, c in enumerate(candidates)}
    picked = learner.choose(options)
    scores = learner.scores(options)
    learner.save(store, name_of(subject))
    return int(picked), {
        "name": name_of(subject),
        "features": list(FEATURES),
        "observations": learner.observations,
        "chosen": int(picked),
        "options": [
            {"features": options[i], "mean": round(m, 4), "sd": round(s, 4)}
            for i, (m, s) in scores.items()
        ],
    }


def annotated(
    candidates: Sequence[dict[str, float]], recorded: dict[str, Any]
) -> tuple[dict[str, float], ...]:
    """The trade-off table with the learner's posterior mean and spread of each row."""
    return tuple(
        {**c, "learnt": o["mean"], "sd": o["sd"]}
        for c, o in zip(candidates, recorded["options"], strict=True)
    )


def feedback(store: Learners, recorded: dict[str, Any], verdict: Verdict) -> float:
    """Teach the learner that chose a landed proposal how it turned out; the reward."""
    reward = -verdict.effect - (1.0 if verdict.regressed else 0.0)
    learner = Learner.restore(store, recorded["name"], FEATURES)
    learner.record(recorded["options"][recorded["chosen"]]["features"], reward)
    learner.save(store, recorded["name"])
    return reward


def features(row: dict[str, float]) -> list[float]:
    return [1.0, *(float(row.get(k, 0.0)) for k in FEATURES[1:])]


def name_of(subject: str) -> str:
    return f"optimization/{subject}"
