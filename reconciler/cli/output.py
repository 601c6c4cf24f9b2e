"""How verbs print: aligned tables for people, documented JSON for machines.

The JSON shapes here are a stable interface (see docs/cli.md); add keys, never rename.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Sequence
from typing import Any

from reconciler.errors import Problem
from reconciler.policy.conflicts import Conflict
from reconciler.policy.decisions import Action, Decision, Outcome
from reconciler.specs.snapshot import Snapshot


def table(rows: Sequence[Sequence[str]], *, header: Sequence[str]) -> str:
    """Left-aligned columns separated by two spaces; the last column is not padded."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def revision_label(snapshot: Snapshot) -> str:
    """`main@0123456789ab`, `v1.2@...`, `HEAD@...`; `working tree` for a plain directory."""
    rev = snapshot.revision
    if rev is None:
        return "working tree"
    name = rev.ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
    return rev.short if rev.sha.startswith(name.lower()) else f"{name}@{rev.short}"


# Singular forms of the `counts` keys, for the one-line `validate` summary.
_SINGULAR = {
    "resources": "resource",
    "policies": "policy",
    "bindings": "binding",
    "constraints": "constraint",
    "workflows": "workflow",
    "runbooks": "runbook",
}


def plural(count: int, noun: str) -> str:
    """`1 policy`, `2 policies`: `noun` is the plural form, a key of `_SINGULAR`."""
    return f"{count} {_SINGULAR.get(noun, noun) if count == 1 else noun}"


def counts(snapshot: Snapshot) -> dict[str, int]:
    return {
        "resources": len(snapshot.resources),
        "policies": len([r for r in snapshot.rego if not r.is_test]),
        "bindings": len(snapshot.bindings),
        "constraints": len(snapshot.constraints),
        "workflows": len(snapshot.workflows),
        "runbooks": len(snapshot.runbooks),
    }


def validation_text(
    snapshot: Snapshot, problems: Sequence[Problem], found: Sequence[Conflict] = ()
) -> str:
    label = revision_label(snapshot)
    notes = conflict_lines(found)
    if problems:
        noun = "problem" if len(problems) == 1 else "problems"
        return "\n".join(
            [*(str(p) for p in problems), *notes, f"{len(problems)} {noun} in {label}"]
        )
    summary = ", ".join(plural(n, k) for k, n in counts(snapshot).items())
    return "\n".join([*notes, f"ok: {label}: {summary}"])


def conflict_json(conflict: Conflict) -> dict[str, Any]:
    return {
        "kind": conflict.kind.value,
        "subjects": list(conflict.subjects),
        "locations": list(conflict.locations),
        "message": conflict.message,
        "examples": list(conflict.examples),
    }


def conflict_lines(found: Sequence[Conflict]) -> list[str]:
    """One line per conflict: `LOCATIONS: conflict (KIND): MESSAGE`, and the resources both
    sides match when there are any."""
    lines: list[str] = []
    for c in found:
        text = f"{', '.join(c.locations)}: conflict ({c.kind.value}): {c.message}"
        lines.append(text + (f" (both match {', '.join(c.examples)})" if c.examples else ""))
    return lines


def problem_json(problem: Problem) -> dict[str, Any]:
    return {
        "path": problem.path,
        "line": problem.line,
        "key": problem.key,
        "message": problem.message,
    }


def validation_json(snapshot: Snapshot, problems: Sequence[Problem]) -> dict[str, Any]:
    rev = snapshot.revision
    return {
        "revision": rev.sha if rev else None,
        "valid": not problems,
        "counts": counts(snapshot),
        "problems": [problem_json(p) for p in problems],
    }


def decisions_json(snapshot: Snapshot, decisions: Sequence[Decision]) -> dict[str, Any]:
    rev = snapshot.revision
    outcomes, actions = counted(decisions)
    return {
        "revision": rev.sha if rev else None,
        "summary": {o.value: n for o, n in outcomes.items()}
        | {a.value: n for a, n in actions.items()},
        "decisions": [d.as_json() for d in decisions],
    }


def counted(decisions: Sequence[Decision]) -> tuple[dict[Outcome, int], dict[Action, int]]:
    """Decisions by outcome, and findings (all but allows) by the action taken: the figures
    of the table's tally and of the JSON summary."""
    outcomes = Counter(d.outcome for d in decisions)
    actions = Counter(d.action_taken for d in decisions if d.outcome is not Outcome.ALLOW)
    # `eval` gates every document, so it never finds a violation (a denial outside the gate).
    gated = [a for a in Action if a not in (Action.ALLOWED, Action.VIOLATION) or actions[a]]
    return {o: outcomes.get(o, 0) for o in Outcome}, {a: actions.get(a, 0) for a in gated}


def decisions_table(decisions: Sequence[Decision], *, width: int = 100) -> str:
    """Findings, most severe first (blocked, warned, recorded, exempted; errors before
    denials before warnings), each row followed by its messages as bullets wrapped to
    `width`; then a one-line tally including allows."""
    findings = sorted((d for d in decisions if d.outcome is not Outcome.ALLOW), key=severity)
    header = ["OUTCOME", "ACTION", "ENFORCEMENT", "RESOURCE", "POLICY"]
    rows = [
        [d.outcome.value, d.action_taken.value, d.enforcement.value, d.resource.key, d.policy]
        for d in findings
    ]
    lines = table(rows, header=header).splitlines() if rows else []
    body = lines[:1]
    for line, decision in zip(lines[1:], findings, strict=True):
        body.append(line)
        body.extend(finding_notes(decision, width=width))
    return "\n".join([*body, *([""] if body else []), tally(decisions)])


_ACTION_ORDER = [
    Action.BLOCKED,
    Action.VIOLATION,
    Action.WARNED,
    Action.RECORDED,
    Action.EXEMPTED,
    Action.ALLOWED,
]
_OUTCOME_ORDER = [Outcome.ERROR, Outcome.DENY, Outcome.WARN, Outcome.ALLOW]


def severity(decision: Decision) -> tuple[int, int, str, str]:
    return (
        _ACTION_ORDER.index(decision.action_taken),
        _OUTCOME_ORDER.index(decision.outcome),
        decision.resource.key,
        decision.policy,
    )


def finding_notes(decision: Decision, *, width: int) -> list[str]:
    """The messages of a finding as wrapped bullets; an exemption also says why."""
    notes = [f"- {m}" for m in decision.messages] or [f"- {decision.explanation}"]
    if decision.action_taken is Action.EXEMPTED and decision.messages:
        notes.append(f"why: {decision.explanation}")
    return [line for note in notes for line in wrap(note, width=width)]


def wrap(text: str, *, width: int) -> list[str]:
    """Indent by two spaces and wrap at `width` (at least 40) without breaking words, so
    long image names and URLs stay whole and copyable."""
    return textwrap.wrap(
        text,
        width=max(width, 40),
        initial_indent="  ",
        subsequent_indent="    ",
        break_long_words=False,
        break_on_hyphens=False,
    )


def tally(decisions: Sequence[Decision]) -> str:
    """`35 decisions: 32 allow, 3 deny, 0 warn, 0 error (0 blocked, 1 warned, ...)`."""
    outcomes, actions = counted(decisions)
    by_outcome = ", ".join(f"{n} {o.value}" for o, n in outcomes.items())
    by_action = ", ".join(f"{n} {a.value}" for a, n in actions.items())
    noun = "decision" if len(decisions) == 1 else "decisions"
    return f"{len(decisions)} {noun}: {by_outcome} ({by_action})"
