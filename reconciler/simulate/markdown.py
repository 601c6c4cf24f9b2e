"""The report as a pull-request comment: a summary table first, details folded below.

Forges cap a comment's size (GitHub: 65,536 characters), so `render` returns parts, each
under the limit and each saying what it is ("part 2 of 3 — reconciler simulation for
abc1234..def5678"). A section that does not fit is closed and continued in the next part.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reconciler.simulate.records import Delta, PlanSection, Report, Verdict

LIMIT = 65_536
_HEADER_ROOM = 200  # the part header is written once the number of parts is known
_LINE_MAX = 4_000
_PLAN_WORDS = {
    "create": "to create",
    "update": "to update",
    "delete": "to delete",
    "noop": "unchanged",
    "not-observed": "not observed",
    "orphan": "left in place",
}
_MARKS = {
    Verdict.REJECTED: "❌",
    Verdict.BLOCKED: "❌",
    Verdict.WARNINGS: "⚠️",
    Verdict.PASSES: "✅",
}
_REJECTED = (
    "The daemon would reject this revision and keep reconciling its last good one: nothing "
    "in this change would be applied, evaluated or started until these are fixed."
)


@dataclass(frozen=True, kw_only=True)
class Section:
    title: str
    lines: tuple[str, ...]
    open: bool = False  # shown unfolded


def verdict(report: Report) -> str:
    return f"{_MARKS[report.verdict]} {report.verdict_text}"


def plan_counts(plan: PlanSection) -> str:
    """What the plan would do, in the same words in the summary and in its section."""
    counts = ", ".join(f"{n} {_PLAN_WORDS.get(a, a)}" for a, n in plan.counts.items() if n)
    return counts or "nothing to do"


def summary_rows(report: Report) -> list[tuple[str, str]]:
    rows = []
    if report.problems is not None:
        p = report.problems
        rows.append(
            (
                "Spec validation",
                f"{len(p.introduced)} introduced, {len(p.fixed)} fixed, {len(p.at_head)} at head",
            )
        )
    if report.tests is not None:
        c = report.tests.counts
        rows.append(
            (
                "Rego tests at head",
                f"{c.get('pass', 0)} passed, {c.get('fail', 0)} failed, {c.get('error', 0)} errors",
            )
        )
    enforcement = sum(1 for p in report.policies if p.enforcement_change)
    rows.append(
        (
            "Policies and bindings",
            f"{len(report.policies)} changed ({enforcement} enforcement changes)",
        )
    )
    if report.decisions is not None:
        count = {d: 0 for d in Delta}
        for item in report.decisions.deltas:
            count[item.delta] += 1
        blocking = sum(1 for d in report.decisions.deltas if d.blocking)
        rows.append(
            (
                "Decisions on head resources",
                f"{count[Delta.NEWLY_DENIED]} newly denied ({blocking} blocking), "
                f"{count[Delta.NEWLY_ALLOWED]} newly allowed, "
                f"{count[Delta.NEW_WARNING]} new warnings",
            )
        )
    if report.plan is not None:
        rows.append(("Plan", plan_counts(report.plan)))
    if report.replay is not None:
        flips = report.replay.flips
        to_deny = sum(f.count for f in flips if f.direction == "allow->deny")
        to_allow = sum(f.count for f in flips if f.direction == "deny->allow")
        rows.append(
            (
                "Decision-log replay",
                f"{report.replay.replayed} replayed: {to_deny} allow→deny, {to_allow} deny→allow",
            )
        )
    if report.runs is not None:
        rows.append(
            (
                "Workflows and runbooks",
                f"{len(report.runs.changes)} changed, {len(report.runs.fires)} would start",
            )
        )
    rows.append(("Policy conflicts introduced", str(len(report.conflicts))))
    if report.errors:
        rows.append(("Could not run", ", ".join(e.section for e in report.errors)))
    return rows


def head_block(report: Report) -> str:
    title = f"### Reconciler simulation `{report.label}`: {verdict(report)}"
    if report.rejected:
        return f"{title}\n\n{_REJECTED}\n"
    lines = [
        title,
        "",
        "| Check | Result |",
        "| --- | --- |",
    ]
    lines += [f"| {name} | {_cell(value)} |" for name, value in summary_rows(report)]
    reasons = report.blocking_reasons()
    if reasons:
        lines += ["", "**Blocked because:**", *(f"- {_cell(r)}" for r in reasons)]
    for issue in report.errors:
        lines += ["", f"> **{issue.section}**: {_cell(issue.message)}"]
    return "\n".join(lines) + "\n"


def render(report: Report, sections: Sequence[Section], *, limit: int = LIMIT) -> list[str]:
    """The comment's parts, each at most `limit` characters."""
    budget = limit - _HEADER_ROOM
    parts: list[list[str]] = [[head_block(report)]]
    size = len(parts[0][0])
    for section in sections:
        details = "<details open>" if section.open else "<details>"
        opening = f"\n{details}<summary>{_cell(section.title)}</summary>\n\n"
        closing = "\n</details>\n"
        chunk = [opening]
        used = len(opening)
        for line in (_clip(line) + "\n" for line in section.lines):
            if size + used + len(line) + len(closing) > budget:
                if used > len(opening):
                    parts[-1].extend([*chunk, closing])
                parts.append([])
                size = 0
                chunk = [opening.replace("</summary>", " (continued)</summary>")]
                used = len(chunk[0])
            chunk.append(line)
            used += len(line)
        parts[-1].extend([*chunk, closing])
        size += used + len(closing)
    return _number(report, ["".join(p) for p in parts])


def _number(report: Report, parts: list[str]) -> list[str]:
    if len(parts) == 1:
        return parts
    total = len(parts)
    return [
        f"**Part {i} of {total} — reconciler simulation for `{report.label}`**\n\n{text}"
        for i, text in enumerate(parts, start=1)
    ]


def _clip(line: str) -> str:
    return line if len(line) <= _LINE_MAX else line[: _LINE_MAX - 1] + "…"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def bullets(items: Iterable[str]) -> list[str]:
    return [f"- {item}" for item in items]
