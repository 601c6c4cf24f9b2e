"""The report as JUnit XML: one testsuite per section, one testcase per decision or test.

CI systems show JUnit natively. Only what blocks the change is a `failure` (or an `error`
for a section that could not run), so the failure count agrees with the exit code;
everything else passes and carries its details in `system-out`. A head the daemon would
reject is one suite, `rejected`, with a failure per problem, and nothing else.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from reconciler.simulate.records import Report


@dataclass(frozen=True, kw_only=True)
class Case:
    name: str
    classname: str
    failure: str | None = None
    error: str | None = None
    out: str = ""


def render(report: Report) -> str:
    root = ET.Element(
        "testsuites", name=f"reconciler simulate {report.label}: {report.verdict_text}"
    )
    for suite, cases in _suites(report).items():
        _suite(root, suite, cases)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _suite(root: ET.Element, name: str, cases: list[Case]) -> None:
    failures = sum(1 for c in cases if c.failure is not None)
    errors = sum(1 for c in cases if c.error is not None)
    suite = ET.SubElement(
        root,
        "testsuite",
        name=name,
        tests=str(len(cases)),
        failures=str(failures),
        errors=str(errors),
        skipped="0",
    )
    for case in cases:
        node = ET.SubElement(suite, "testcase", name=case.name, classname=case.classname)
        if case.failure is not None:
            ET.SubElement(node, "failure", message=case.failure[:500]).text = case.failure
        if case.error is not None:
            ET.SubElement(node, "error", message=case.error[:500]).text = case.error
        if case.out:
            ET.SubElement(node, "system-out").text = case.out


def _suites(report: Report) -> dict[str, list[Case]]:
    if report.rejected:
        return {
            "rejected": [
                Case(name=str(p), classname="rejected", failure=str(p)) for p in report.rejection
            ]
        }
    suites: dict[str, list[Case]] = {}
    if report.problems is not None:
        cls = "validation"
        suites[cls] = [
            Case(name=str(p), classname=cls, failure=str(p)) for p in report.problems.at_head
        ]
        suites[cls] += [Case(name=f"fixed: {p}", classname=cls) for p in report.problems.fixed]
        suites[cls] = suites[cls] or [Case(name="every spec is valid", classname=cls)]
    if report.tests is not None:
        suites["rego-tests"] = [
            Case(
                name=f"{t.package}.{t.name}",
                classname=t.path,
                failure=(t.message or t.outcome) if t.outcome in ("FAIL", "ERROR") else None,
            )
            for t in report.tests.results
        ]
    if report.decisions is not None:
        suites["decisions"] = [
            Case(
                name=f"{d.key} {d.policy}",
                classname=d.binding,
                failure="; ".join(d.messages) or d.delta.value if d.blocking else None,
                out=f"{d.delta.value}: {d.action_before} -> {d.action_after}; "
                + "; ".join(d.messages),
            )
            for d in report.decisions.deltas
        ]
    if report.plan is not None:
        suites["plan"] = [
            Case(
                name=f"{i.action} {i.key}",
                classname="plan",
                out="\n".join(
                    [*i.changes, i.note, *(f"blocked by {b}" for b in i.blocked_by)]
                ).strip(),
            )
            for i in report.plan.items
        ]
    if report.replay is not None:
        suites["replay"] = [
            Case(
                name=f"{f.policy} {f.direction}",
                classname=f.binding,
                out=f"{f.count} decisions: " + ", ".join(e.key for e in f.examples),
            )
            for f in report.replay.flips
        ]
    if report.runs is not None:
        suites["runs"] = [
            Case(
                name=f"{c.kind} {c.name} {c.change.value}",
                classname=c.path,
                out="\n".join(c.problems),
            )
            for c in report.runs.changes
        ] + [
            Case(name=f"starts {f.kind} {f.name}", classname=f.trigger, out=f.reason)
            for f in report.runs.fires
        ]
    suites["conflicts"] = [
        Case(name=c.message, classname=c.kind, out=", ".join(c.locations)) for c in report.conflicts
    ] or [Case(name="no policy conflict introduced", classname="conflicts")]
    if report.errors:
        suites["errors"] = [
            Case(
                name=e.section,
                classname="simulate",
                error=e.message if e.blocking else None,
                out=e.message,
            )
            for e in report.errors
        ]
    return suites
