"""The repository's decision rules: `data.reconciler.decisions.<type>`.

A team scores options in Rego, and tests the rules with `reconciler test` like any policy:

    package reconciler.decisions.remediation
    import rego.v1

    score[name] := 0.9 if {
        some option in input.options
        name := option.name
        option.target == "restart-service"
        input.context.window == "off-hours"
    }
    reasons[name] contains "restarts are safe off-hours" if { ... }

`input` is `{"context": {...}, "options": [{"kind", "target", "name"}]}`. `score` maps an
option's name to a number in [0, 1]; `reasons` (optional) maps it to strings. Options
without a score get none from the rules (the neutral prior). A rule that fails to evaluate
is reported, and the decision is taken on history alone.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from reconciler.decide.records import Context, Option
from reconciler.decide.scoring import RuleScore
from reconciler.policy import rego

PACKAGE = "data.reconciler.decisions"


class RuleProblem(Exception):
    """The rules for a decision type could not be evaluated; the message says why."""


def evaluate(
    engine: rego.RegoEngine,
    context: Context,
    options: Sequence[Option],
    *,
    package: str | None = None,
) -> dict[str, RuleScore]:
    """The rule scores for `options` from `package` (default: the rules for the context's
    type); empty when the repository has no such package."""
    package = f"data.{package.removeprefix('data.')}" if package else f"{PACKAGE}.{context.type}"
    if package not in engine.packages():
        return {}
    engine.set_input_json(json.dumps(_input(context, options)))
    try:
        found = engine.eval_query(package)
    except rego.RegoEvalError as exc:
        raise RuleProblem(f"{package}: {exc}") from None
    value = found[0]["expressions"][0]["value"] if found else {}
    rules = value if isinstance(value, dict) else {}
    scores, reasons = rules.get("score", rego.UNDEFINED), rules.get("reasons", {})
    return _read(package, scores, reasons, {o.name for o in options})


def _input(context: Context, options: Sequence[Option]) -> dict[str, Any]:
    return {
        "context": {**asdict(context), "bucket": context.bucket},
        "options": [{"kind": o.kind, "target": o.target, "name": o.name} for o in options],
    }


def _read(package: str, scores: Any, reasons: Any, known: set[str]) -> dict[str, RuleScore]:
    if scores == rego.UNDEFINED:
        return {}
    if not isinstance(scores, dict):
        raise RuleProblem(f"{package}.score must be an object of option name to number")
    why = reasons if isinstance(reasons, dict) else {}
    out: dict[str, RuleScore] = {}
    for name, value in scores.items():
        if name not in known:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise RuleProblem(f"{package}.score[{name!r}] must be a number in [0, 1]")
        out[name] = RuleScore(float(value), tuple(str(r) for r in _strings(why.get(name))))
    return out


def _strings(value: Any) -> list[Any]:
    return sorted(value, key=str) if isinstance(value, list) else []
