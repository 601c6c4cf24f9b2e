"""The level of approval a decision needs, from its confidence and the overrides.

Thresholds (`decisions.thresholds` in `reconciler.yaml`) default to: below 0.70 a human
with the admin role approves, from 0.70 an operator approves, from 0.85 the daemon acts and
publishes a notification event, from 0.95 it acts alone. A binding's or workflow's
`approval` overrides: `auto` acts alone, `required`/`always-ask` always asks a human,
`never-automatic` asks an operator at best.
"""

from __future__ import annotations

from reconciler.decide.records import Level
from reconciler.specs.decisions import Thresholds

ORDER = (Level.HUMAN, Level.OPERATOR, Level.NOTIFY, Level.AUTONOMOUS)
APPROVER_ROLE = {Level.HUMAN: "admin", Level.OPERATOR: "operator"}
"""The role an approval at each level asks for; higher levels need no approval."""


def level_for(confidence: float, thresholds: Thresholds, approval: str = "confidence") -> Level:
    """The level for `confidence` under `approval` (a binding's or workflow's setting)."""
    if approval == "auto":
        return Level.AUTONOMOUS
    if approval in ("required", "always-ask"):
        return Level.HUMAN
    level = _by_confidence(confidence, thresholds)
    if approval == "never-automatic":
        return min(level, Level.OPERATOR, key=ORDER.index)
    return level


def needs_approval(level: Level) -> bool:
    return level in APPROVER_ROLE


def _by_confidence(confidence: float, thresholds: Thresholds) -> Level:
    if confidence >= thresholds.autonomous:
        return Level.AUTONOMOUS
    if confidence >= thresholds.notify:
        return Level.NOTIFY
    if confidence >= thresholds.operator:
        return Level.OPERATOR
    return Level.HUMAN
