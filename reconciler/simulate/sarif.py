"""The report as SARIF 2.1.0, for code-scanning views that annotate the changed files.

Each rule is a policy (or `spec-validation`, `rego-test`, `policy-conflict`; for a head the
daemon would reject, `rejected` alone, one result per problem); each result
points at the file and line of the resource, spec or test it is about. Levels: `error`
for what blocks the change, `warning` for what does not, `note` for newly allowed.
"""

from __future__ import annotations

from typing import Any

from reconciler import __version__
from reconciler.simulate.records import Delta, Report

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _location(path: str, line: int | None) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": path.split("#", 1)[0]}}
    if line:
        physical["region"] = {"startLine": line}
    return {"physicalLocation": physical}


def _result(rule: str, level: str, message: str, path: str, line: int | None) -> dict[str, Any]:
    return {
        "ruleId": rule,
        "level": level,
        "message": {"text": message or rule},
        "locations": [_location(path, line)],
    }


def _rejection(report: Report) -> list[dict[str, Any]]:
    return [
        _result(
            "rejected", "error", f"{p.key}: {p.message}" if p.key else p.message, p.path, p.line
        )
        for p in report.rejection
    ]


def results(report: Report) -> list[dict[str, Any]]:
    if report.rejected:
        return _rejection(report)
    out = []
    if report.problems is not None:
        out += [
            _result(
                "spec-validation",
                "error",
                f"{p.key}: {p.message}" if p.key else p.message,
                p.path,
                p.line,
            )
            for p in report.problems.introduced
        ]
    if report.tests is not None:
        out += [
            _result(
                "rego-test",
                "error",
                f"{t.package}.{t.name}: {t.outcome} {t.message}",
                t.path,
                t.line,
            )
            for t in report.tests.results
            if t.outcome in ("FAIL", "ERROR")
        ]
    if report.decisions is not None:
        for d in report.decisions.deltas:
            level = (
                "error" if d.blocking else "note" if d.delta is Delta.NEWLY_ALLOWED else ("warning")
            )
            text = f"{d.delta.value} by {d.binding} ({d.enforcement}): {d.key}: " + "; ".join(
                d.messages
            )
            out.append(_result(d.policy, level, text, d.path, d.line))
    for c in report.conflicts:
        path, _, line = c.locations[0].partition(":") if c.locations else ("", "", "")
        out.append(
            _result(
                "policy-conflict", "warning", c.message, path, int(line) if line.isdigit() else None
            )
        )
    return out


def render(report: Report) -> dict[str, Any]:
    found = results(report)
    rules = sorted({r["ruleId"] for r in found})
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "reconciler",
                        "version": __version__,
                        "rules": [{"id": r, "shortDescription": {"text": r}} for r in rules],
                    }
                },
                "automationDetails": {"id": f"reconciler-simulate/{report.label}"},
                "properties": {"verdict": report.verdict_text},
                "results": found,
            }
        ],
    }
