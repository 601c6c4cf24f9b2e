"""The detail sections of a report as Markdown lines, one `Section` per part of the report.

Shared by the pull-request comment and the GitHub check run's text. Messages come from
the revision under review, so they are put in code spans, never rendered as Markdown.
"""

from __future__ import annotations

import re

from reconciler.simulate import bounds, markdown
from reconciler.simulate.markdown import Section
from reconciler.simulate.records import Delta, Report

_TITLES = {
    Delta.NEWLY_DENIED: "Newly denied",
    Delta.NEWLY_ALLOWED: "Newly allowed",
    Delta.NEW_WARNING: "New warnings",
}

_CODE_CHARS = 3_000  # under markdown's line limit, with room for the rest of the line
_CAUSES = {"policy": "policy change", "edited": "resource edited", "added": "resource added"}


def code(text: str) -> str:
    """`text` as an inline code span that its own backticks cannot close: the fence is one
    backtick longer than the longest run of them in it, and the text is clipped first so
    that a line cut at `markdown`'s line limit never loses the closing fence."""
    clean = bounds.clip(" ".join(text.splitlines()), limit=_CODE_CHARS)
    runs = re.findall(r"`+", clean)
    if not runs and clean.strip() == clean:
        return f"`{clean}`"
    fence = "`" * (max((len(r) for r in runs), default=0) + 1)
    return f"{fence} {clean} {fence}"


def sections(report: Report) -> list[Section]:
    if report.rejected:
        return [_rejection(report)]
    found = [
        _problems(report),
        _tests(report),
        _policies(report),
        *_decisions(report),
        _plan(report),
        _replay(report),
        _runs(report),
        _conflicts(report),
    ]
    return [s for s in found if s is not None and s.lines]


def _rejection(report: Report) -> Section:
    """The problems the daemon would reject the head for, new ones marked."""
    new = set(report.problems.introduced) if report.problems else set()
    lines = [
        f"- ❌ {code(str(p))}" if p in new else f"- {code(str(p))} (already at base)"
        for p in report.rejection
    ]
    return Section(title=f"Problems at head: {len(lines)}", lines=tuple(lines), open=True)


def _problems(report: Report) -> Section | None:
    p = report.problems
    if p is None:
        return None
    lines = [f"- ❌ introduced: {code(str(i))}" for i in p.introduced]
    lines += [f"- ✅ fixed: {code(str(i))}" for i in p.fixed]
    still = [i for i in p.at_head if i not in p.introduced]
    lines += [f"- still there: {code(str(i))}" for i in still]
    return Section(
        title=f"Spec validation: {len(p.introduced)} introduced, {len(p.fixed)} fixed",
        lines=tuple(lines),
    )


def _tests(report: Report) -> Section | None:
    t = report.tests
    if t is None:
        return None
    bad = [r for r in t.results if r.outcome in ("FAIL", "ERROR")]
    lines = [
        f"- {r.outcome} {code(f'{r.package}.{r.name}')} ({r.path}:{r.line})"
        + (f": {code(r.message)}" if r.message else "")
        for r in bad
    ]
    return Section(
        title=f"Rego tests at head: {len(bad)} failing of {t.counts.get('total', 0)}",
        lines=tuple(lines),
    )


def _policies(report: Report) -> Section | None:
    lines = ["| Kind | Name | Change | Enforcement | Where |", "| --- | --- | --- | --- | --- |"]
    for p in report.policies:
        enforcement = p.enforcement_change or p.enforcement_after or p.enforcement_before or ""
        if p.enforcement_change:
            enforcement = f"**{enforcement}**"
        detail = f" ({'; '.join(p.details)})" if p.details else ""
        where = f"{p.path}:{p.line}" if p.line else p.path
        lines.append(
            f"| {p.kind} | {code(p.name)} | {p.change.value}{detail} | {enforcement} | {where} |"
        )
    if not report.policies:
        return None
    return Section(
        title=f"Policies and bindings: {len(report.policies)} changed", lines=tuple(lines)
    )


def _decisions(report: Report) -> list[Section]:
    if report.decisions is None:
        return []
    out = []
    for delta, title in _TITLES.items():
        items = [d for d in report.decisions.deltas if d.delta is delta]
        lines = []
        for d in items:
            flag = "🛑 blocks" if d.blocking else (d.action_after or "not evaluated")
            lines.append(
                f"- **{code(d.key)}** — {code(d.policy)} via {code(d.binding)} ({d.enforcement}; "
                f"{d.action_before or 'not evaluated'} → {flag}; {_CAUSES[d.cause]}) "
                f"at {d.path}:{d.line}"
            )
            lines += [f"  - {code(m)}" for m in d.messages]
        out.append(Section(title=f"{title}: {len(items)}", lines=tuple(lines)))
    return out


def _plan(report: Report) -> Section | None:
    plan = report.plan
    if plan is None:
        return None
    lines = [f"Observed from {plan.observed_from}.", ""]
    for item in plan.items:
        blocked = f" — 🛑 blocked by {', '.join(item.blocked_by)}" if item.blocked_by else ""
        note = f" — {item.note}" if item.note else ""
        lines.append(f"- **{item.action}** {code(item.key)}{note}{blocked}")
        lines += [f"  - {code(c)}" for c in item.changes[:20]]
        if len(item.changes) > 20:
            lines.append(f"  - … {len(item.changes) - 20} more")
    return Section(title=f"Plan: {markdown.plan_counts(plan)}", lines=tuple(lines))


def _replay(report: Report) -> Section | None:
    r = report.replay
    if r is None:
        return None
    lines = [
        f"{r.replayed} logged decisions replayed, {r.unchanged} unchanged, "
        f"{r.missing_inputs} without a recorded input, {r.binding_removed} of removed "
        "bindings.",
        "",
    ]
    for flip in r.flips:
        lines.append(
            f"- {code(flip.policy)} via {code(flip.binding)}: **{flip.count}** {flip.direction}"
        )
        for e in flip.examples:
            shown = "; ".join(e.messages)
            lines.append(
                f"  - {code(e.key)} (logged {e.at})" + (f": {code(shown)}" if shown else "")
            )
    return Section(
        title=f"Decision-log replay: {sum(f.count for f in r.flips)} flips", lines=tuple(lines)
    )


def _runs(report: Report) -> Section | None:
    runs = report.runs
    if runs is None:
        return None
    lines = []
    for c in runs.changes:
        where = f"{c.path}:{c.line}" if c.line else c.path
        state = "invalid" if c.problems else "valid"
        lines.append(f"- {c.kind} {code(c.name)} {c.change.value} ({where}): {state}")
        lines += [f"  - {code(p)}" for p in c.problems]
        lines += [f"  - dry run: {code(s)}" for s in c.dry_run]
    lines += [
        f"- would start {f.kind} {code(f.name)} ({f.trigger}): {f.reason}" for f in runs.fires
    ]
    return Section(
        title=f"Workflows and runbooks: {len(runs.changes)} changed, {len(runs.fires)} would start",
        lines=tuple(lines),
    )


def _conflicts(report: Report) -> Section | None:
    lines = []
    for c in report.conflicts:
        lines.append(f"- **{c.kind}** {c.message} ({', '.join(c.locations)})")
        if c.examples:
            lines.append(f"  - e.g. {', '.join(code(k) for k in c.examples)}")
    return Section(
        title=f"Policy conflicts introduced: {len(report.conflicts)}", lines=tuple(lines)
    )
