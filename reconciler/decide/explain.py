"""A decision in plain language, generated only from its recorded fields."""

from __future__ import annotations

from reconciler.decide.levels import APPROVER_ROLE
from reconciler.decide.records import Choice, Context, Level, Score


def explain(context: Context, choice: Choice, level: Level) -> str:
    """Why the daemon chose what it chose and what it will do about approval."""
    if choice.chosen is None:
        return f"{context.type} for {context.subject}: no option to choose from; nothing done."
    lines = [
        f"{context.type} for {context.subject}"
        + (f" (binding {context.binding})" if context.binding else "")
        + f": chose {choice.chosen.name} with confidence {choice.confidence:.2f}.",
        _clarity(choice),
        *(f"- {_option_line(s)}" for s in choice.scores),
        _level_line(level),
    ]
    return "\n".join(line for line in lines if line)


def _clarity(choice: Choice) -> str:
    if len(choice.scores) < 2:
        return "It was the only option."
    return (
        f"It leads the next option by {choice.margin:.2f}; the chance that it is really the"
        f" best is {choice.p_best:.0%}, on {choice.evidence:g} recorded outcomes."
    )


def _option_line(score: Score) -> str:
    rule = (
        "no rule scored it"
        if score.rule is None
        else f"rules scored it {score.rule:.2f}"
        + (f" ({'; '.join(score.rule_reasons)})" if score.rule_reasons else "")
    )
    return f"{score.option.name}: {score.combined:.2f} — {rule}; {score.history_reason}."


def _level_line(level: Level) -> str:
    if level in APPROVER_ROLE:
        return f"Level {level.value}: waits for approval by the {APPROVER_ROLE[level]} role."
    if level is Level.NOTIFY:
        return "Level notify: acts now and publishes a notification event."
    return "Level autonomous: acts now."
