"""How verbs print: aligned tables for people, documented JSON for machines.

The JSON shapes here are a stable interface (see docs/cli.md); add keys, never rename.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from reconciler.errors import Problem
from reconciler.policy.decisions import Decision, Outcome
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
    rev = snapshot.revision
    return f"{rev.ref}@{rev.short}" if rev else "working tree"


def counts(snapshot: Snapshot) -> dict[str, int]:
    return {
        "resources": len(snapshot.resources),
        "policies": len([r for r in snapshot.rego if not r.is_test]),
        "bindings": len(snapshot.bindings),
        "constraints": len(snapshot.constraints),
        "workflows": len(snapshot.workflows),
        "runbooks": len(snapshot.runbooks),
    }


def validation_text(snapshot: Snapshot, problems: Sequence[Problem]) -> str:
    label = revision_label(snapshot)
    if problems:
        noun = "problem" if len(problems) == 1 else "problems"
        return "\n".join([*(str(p) for p in problems), f"{len(problems)} {noun} in {label}"])
    summary = ", ".join(f"{n} {k}" for k, n in counts(snapshot).items())
    return f"ok: {label}: {summary}"


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
    tally = Counter(d.outcome.value for d in decisions)
    return {
        "revision": rev.sha if rev else None,
        "summary": {o.value: tally.get(o.value, 0) for o in Outcome},
        "decisions": [d.as_json() for d in decisions],
    }


def decisions_table(decisions: Sequence[Decision]) -> str:
    """Findings first (deny, error, warn), then a one-line tally including allows."""
    order = {Outcome.ERROR: 0, Outcome.DENY: 1, Outcome.WARN: 2, Outcome.ALLOW: 3}
    findings = sorted(
        (d for d in decisions if d.outcome is not Outcome.ALLOW),
        key=lambda d: (order[d.outcome], d.resource.key, d.policy),
    )
    rows = [
        [
            d.outcome.value,
            d.action_taken.value,
            d.enforcement.value,
            d.resource.key,
            d.policy,
            "; ".join(d.messages) or d.explanation,
        ]
        for d in findings
    ]
    tally = Counter(d.outcome.value for d in decisions)
    summary = ", ".join(f"{tally.get(o.value, 0)} {o.value}" for o in Outcome)
    if not rows:
        return f"{len(decisions)} decisions: {summary}"
    header = ["OUTCOME", "ACTION", "ENFORCEMENT", "RESOURCE", "POLICY", "MESSAGE"]
    return table(rows, header=header) + f"\n\n{len(decisions)} decisions: {summary}"
