"""The report as a GitHub check-run payload (`POST /repos/{owner}/{repo}/check-runs`).

`conclusion` is `failure` when the change would be blocked (a rejected head included),
`neutral` when it passes with warnings, `success` otherwise. GitHub caps `output.summary`
and `output.text` at 65,535 characters and takes at most 50 annotations per request: the
most severe come first.
"""

from __future__ import annotations

from typing import Any

from reconciler.simulate import details, markdown
from reconciler.simulate.records import Delta, Report

NAME = "reconciler simulate"
MAX_TEXT = 65_535
MAX_ANNOTATIONS = 50
_RANK = {"failure": 0, "warning": 1, "notice": 2}


def conclusion(report: Report) -> str:
    if report.blocked:
        return "failure"
    return "neutral" if report.warnings else "success"


def _annotation(
    *, path: str, line: int | None, level: str, title: str, message: str
) -> dict[str, Any]:
    start = line or 1
    return {
        "path": path.split("#", 1)[0],
        "start_line": start,
        "end_line": start,
        "annotation_level": level,
        "title": title[:255],
        "message": message[:64_000],
    }


def annotation_list(report: Report) -> list[dict[str, Any]]:
    if report.rejected:
        return [
            _annotation(
                path=p.path,
                line=p.line,
                level="failure",
                title="rejected",
                message=f"{p.key}: {p.message}" if p.key else p.message,
            )
            for p in report.rejection
        ][:MAX_ANNOTATIONS]
    out = []
    if report.problems is not None:
        out += [
            _annotation(
                path=p.path,
                line=p.line,
                level="failure",
                title="invalid spec",
                message=f"{p.key}: {p.message}" if p.key else p.message,
            )
            for p in report.problems.at_head
        ]
    if report.tests is not None:
        out += [
            _annotation(
                path=t.path,
                line=t.line,
                level="failure",
                title=f"Rego test {t.outcome}",
                message=f"{t.package}.{t.name} {t.message}".strip(),
            )
            for t in report.tests.results
            if t.outcome in ("FAIL", "ERROR")
        ]
    if report.decisions is not None:
        for d in report.decisions.deltas:
            level = (
                "failure"
                if d.blocking
                else "notice"
                if d.delta is Delta.NEWLY_ALLOWED
                else ("warning")
            )
            out.append(
                _annotation(
                    path=d.path,
                    line=d.line,
                    level=level,
                    title=f"{d.delta.value}: {d.policy}",
                    message="\n".join(d.messages) or d.key,
                )
            )
    for c in report.conflicts:
        path, _, line = (c.locations[0] if c.locations else "").partition(":")
        out.append(
            _annotation(
                path=path,
                line=int(line) if line.isdigit() else None,
                level="warning",
                title=f"policy conflict ({c.kind})",
                message=c.message,
            )
        )
    out.sort(key=lambda a: _RANK[a["annotation_level"]])
    return out[:MAX_ANNOTATIONS]


def payload(report: Report) -> dict[str, Any]:
    text = "".join(markdown.render(report, details.sections(report), limit=10**9))
    summary = markdown.head_block(report)
    return {
        "name": NAME,
        "head_sha": report.head,
        "status": "completed",
        "conclusion": conclusion(report),
        "output": {
            "title": f"{markdown.verdict(report)} ({report.label})"[:255],
            "summary": _fit(summary),
            "text": _fit(text.removeprefix(summary)),
            "annotations": annotation_list(report),
        },
    }


def _fit(text: str) -> str:
    if len(text) <= MAX_TEXT:
        return text
    note = "\n\n… (truncated; run `reconciler simulate --format markdown` for everything)"
    return text[: MAX_TEXT - len(note)] + note
