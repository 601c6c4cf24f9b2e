"""Taking a decision: rules and history score the options, the level follows from the
confidence and the overrides, and the record explains itself."""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Sequence

from reconciler.decide import explain, levels, rules, scoring
from reconciler.decide.history import History
from reconciler.decide.records import Context, DecisionRecord, Option
from reconciler.policy import rego
from reconciler.specs.decisions import DecisionSettings


def decide(
    context: Context,
    options: Sequence[Option],
    *,
    settings: DecisionSettings,
    history: History,
    engine: rego.RegoEngine | None = None,
    approval: str = "confidence",
    at: str = "",
    seed: int | None = None,
    package: str | None = None,
) -> DecisionRecord:
    """Score `options` for `context` and say what the daemon may do about the best one.

    `package` names the rules (default `data.reconciler.decisions.<type>`). Deterministic:
    the sampling seed defaults to a hash of the context's bucket and
    subject, so the same inputs give the same record (apart from `id` and `at`).
    """
    problem = None
    scored: dict[str, scoring.RuleScore] = {}
    if engine is not None:
        try:
            scored = rules.evaluate(engine, context, options, package=package)
        except rules.RuleProblem as exc:
            problem = str(exc)
    counts = history.counts(context.bucket, [o.name for o in options])
    choice = scoring.choose(
        options,
        scored,
        counts,
        settings.weights,
        seed=zlib.crc32(f"{context.bucket}/{context.subject}".encode()) if seed is None else seed,
    )
    level = levels.level_for(choice.confidence, settings.thresholds, approval)
    return DecisionRecord(
        id=uuid.uuid4().hex,
        at=at,
        context=context,
        options=tuple(options),
        choice=choice,
        level=level,
        approval=approval,
        explanation=explain.explain(context, choice, level),
        rule_problem=problem,
    )
