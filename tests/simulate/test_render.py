"""The report's formats: Markdown split under the comment limit, SARIF valid against the
2.1.0 schema, JUnit XML that parses, the GitHub check-run payload, JSON that reads back."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from reconciler.cli import simulate as cli
from reconciler.simulate import details, github, junit, markdown, sarif
from reconciler.simulate.records import (
    Change,
    ConflictItem,
    DecisionDelta,
    DecisionsSection,
    Delta,
    Fire,
    Flip,
    FlipExample,
    Issue,
    PlanItem,
    PlanSection,
    PolicyChange,
    ProblemItem,
    ProblemsSection,
    ReplaySection,
    Report,
    RunChange,
    RunsSection,
    TestItem,
    TestsSection,
)

SCHEMA = Path(__file__).with_name("sarif-2.1.0.json")
BASE, HEAD = "a" * 40, "b" * 40


def delta(
    i: int,
    *,
    kind: Delta = Delta.NEWLY_DENIED,
    blocking: bool = True,
    message: str = "missing label owner",
) -> DecisionDelta:
    return DecisionDelta(
        delta=kind,
        binding="require-owner",
        policy="k8s.labels",
        key=f"Deployment/prod/web-{i}",
        path=f"resources/web-{i}.yaml",
        line=3,
        enforcement="strict" if blocking else "advisory",
        outcome_before="allow",
        outcome_after="deny",
        action_before="allowed",
        action_after="blocked" if blocking else "warned",
        messages=(f"web-{i}: {message}",),
        blocking=blocking,
    )


def full_report(deltas: tuple[DecisionDelta, ...] | None = None) -> Report:
    problem = ProblemItem(path="resources/x.yaml", line=4, key="spec.path", message="required")
    return Report(
        base=BASE,
        head=HEAD,
        changed_paths=("resources/x.yaml",),
        problems=ProblemsSection(introduced=(problem,), at_head=(problem,)),
        tests=TestsSection(
            counts={"pass": 1, "fail": 1, "error": 0, "skip": 0, "total": 2},
            results=(
                TestItem(
                    package="k8s.labels_test",
                    name="test_owner",
                    path="policies/l_test.rego",
                    line=7,
                    outcome="FAIL",
                    message="",
                ),
                TestItem(
                    package="k8s.labels_test",
                    name="test_ok",
                    path="policies/l_test.rego",
                    line=3,
                    outcome="PASS",
                ),
            ),
        ),
        policies=(
            PolicyChange(
                kind="binding",
                name="require-owner",
                change=Change.CHANGED,
                path="policies/b.yaml",
                line=1,
                enforcement_before="advisory",
                enforcement_after="strict",
                details=("spec.enforcement changed",),
            ),
        ),
        decisions=DecisionsSection(
            resources=3,
            decisions_base=3,
            decisions_head=3,
            deltas=deltas
            if deltas is not None
            else (
                delta(1),
                delta(2, kind=Delta.NEW_WARNING, blocking=False),
                delta(3, kind=Delta.NEWLY_ALLOWED, blocking=False),
            ),
        ),
        plan=PlanSection(
            observed_from="providers (read-only)",
            counts={"create": 1, "update": 0, "delete": 0, "noop": 2},
            items=(
                PlanItem(
                    key="File//motd",
                    action="create",
                    changes=("add spec",),
                    blocked_by=("files.mode",),
                ),
            ),
        ),
        replay=ReplaySection(
            replayed=10,
            unchanged=9,
            flips=(
                Flip(
                    policy="k8s.labels",
                    binding="require-owner",
                    direction="allow->deny",
                    count=1,
                    examples=(
                        FlipExample(
                            key="Deployment/prod/web-1",
                            at="2026-01-01T00:00:00",
                            messages=("missing `owner` | label",),
                        ),
                    ),
                ),
            ),
        ),
        runs=RunsSection(
            changes=(
                RunChange(
                    kind="Runbook",
                    name="wipe",
                    change=Change.ADDED,
                    path="runbooks/wipe.yaml",
                    line=1,
                    problems=("runbooks/wipe.yaml:7 x: dangerous",),
                ),
            ),
            fires=(
                Fire(
                    kind="Workflow",
                    name="backup",
                    trigger="git",
                    reason="git paths resources/** match resources/x.yaml",
                ),
            ),
        ),
        conflicts=(
            ConflictItem(
                kind="parameters",
                subjects=("a", "b"),
                locations=("policies/b.yaml:1", "policies/c.yaml:4"),
                message="a requires min 5 but b allows at most max 3",
            ),
        ),
        errors=(
            Issue(section="replay", message="not run: an earlier stage failed", blocking=False),
        ),
    )


def test_markdown_starts_with_a_summary_table_and_folds_the_details() -> None:
    (comment,) = markdown.render(full_report(), details.sections(full_report()))
    assert comment.startswith(
        "### Reconciler simulation `aaaaaaa..bbbbbbb`: ❌ would be blocked\n\n"
        "| Check | Result |\n| --- | --- |\n"
        "| Spec validation | 1 introduced, 0 fixed, 1 at head |\n"
    )
    assert (
        "| Decisions on head resources | 1 newly denied (1 blocking), 1 newly allowed, "
        "1 new warnings |" in comment
    )
    assert (
        "**Blocked because:**\n- 1 invalid spec(s) at head\n- 1 failing Rego test(s) at "
        "head\n- 1 newly denied strict decision(s)\n" in comment
    )
    assert comment.count("<details>") == comment.count("</details>") == 10
    assert (
        "| binding | `require-owner` | changed (spec.enforcement changed) | "
        "**advisory -> strict** | policies/b.yaml:1 |" in comment
    )
    assert "`` missing `owner` | label ``" in comment  # text from the change stays code


def test_a_huge_report_is_split_into_self_describing_parts_under_the_limit() -> None:
    deltas = tuple(delta(i, message="x" * 300) for i in range(2_000))
    report = full_report(deltas)
    parts = markdown.render(report, details.sections(report))
    assert len(parts) >= 10
    for number, part in enumerate(parts, start=1):
        assert len(part) <= markdown.LIMIT
        assert part.startswith(
            f"**Part {number} of {len(parts)} — reconciler simulation for `aaaaaaa..bbbbbbb`**\n\n"
        )
        assert part.count("<details>") == part.count("</details>") >= 1
    assert "| Check | Result |" in parts[0] and "| Check | Result |" not in parts[1]
    assert "<summary>Newly denied: 2000 (continued)</summary>" in parts[1]
    shown = re.findall(r"\*\*`(Deployment/prod/web-\d+)`\*\*", "".join(parts))
    assert shown == [f"Deployment/prod/web-{i}" for i in range(2_000)]


def test_sarif_is_valid_against_the_2_1_0_schema() -> None:
    log = sarif.render(full_report())
    jsonschema.validate(log, json.loads(SCHEMA.read_text()))
    results = log["runs"][0]["results"]
    assert [(r["ruleId"], r["level"], r["locations"][0]["physicalLocation"]) for r in results] == [
        (
            "spec-validation",
            "error",
            {"artifactLocation": {"uri": "resources/x.yaml"}, "region": {"startLine": 4}},
        ),
        (
            "rego-test",
            "error",
            {"artifactLocation": {"uri": "policies/l_test.rego"}, "region": {"startLine": 7}},
        ),
        (
            "k8s.labels",
            "error",
            {"artifactLocation": {"uri": "resources/web-1.yaml"}, "region": {"startLine": 3}},
        ),
        (
            "k8s.labels",
            "warning",
            {"artifactLocation": {"uri": "resources/web-2.yaml"}, "region": {"startLine": 3}},
        ),
        (
            "k8s.labels",
            "note",
            {"artifactLocation": {"uri": "resources/web-3.yaml"}, "region": {"startLine": 3}},
        ),
        (
            "policy-conflict",
            "warning",
            {"artifactLocation": {"uri": "policies/b.yaml"}, "region": {"startLine": 1}},
        ),
    ]
    rules = [r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]]
    assert rules == ["k8s.labels", "policy-conflict", "rego-test", "spec-validation"]


def test_junit_has_a_suite_per_section_and_fails_only_what_blocks() -> None:
    root = ET.fromstring(junit.render(full_report()))
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert list(suites) == [
        "validation",
        "rego-tests",
        "decisions",
        "plan",
        "replay",
        "runs",
        "conflicts",
        "errors",
    ]
    decisions = suites["decisions"]
    assert (decisions.get("tests"), decisions.get("failures")) == ("3", "1")
    failed = [c.get("name") for c in decisions.iter("testcase") if c.find("failure") is not None]
    assert failed == ["Deployment/prod/web-1 k8s.labels"]
    tests = suites["rego-tests"]
    assert [(c.get("name"), c.find("failure") is not None) for c in tests.iter("testcase")] == [
        ("k8s.labels_test.test_owner", True),
        ("k8s.labels_test.test_ok", False),
    ]
    assert suites["errors"].get("errors") == "0"  # a stage not run is no error of its own


def test_the_github_payload_is_a_completed_check_run() -> None:
    deltas = tuple(delta(i) for i in range(80))
    payload = github.payload(full_report(deltas))
    assert set(payload) == {"name", "head_sha", "status", "conclusion", "output"}
    assert (payload["name"], payload["head_sha"], payload["status"], payload["conclusion"]) == (
        "reconciler simulate",
        HEAD,
        "completed",
        "failure",
    )
    output = payload["output"]
    assert set(output) == {"title", "summary", "text", "annotations"}
    assert output["title"] == "❌ would be blocked (aaaaaaa..bbbbbbb)"
    assert len(output["annotations"]) == 50
    assert {a["annotation_level"] for a in output["annotations"]} == {"failure"}
    assert output["annotations"][0] == {
        "path": "resources/x.yaml",
        "start_line": 4,
        "end_line": 4,
        "annotation_level": "failure",
        "title": "invalid spec",
        "message": "spec.path: required",
    }
    assert output["summary"].startswith("### Reconciler simulation")
    assert "<details>" in output["text"] and "| Check |" not in output["text"]


@pytest.mark.parametrize(
    ("report", "conclusion"),
    [
        (Report(base=BASE, head=HEAD), "success"),
        (Report(base=BASE, head=HEAD, conflicts=full_report().conflicts), "neutral"),
    ],
)
def test_the_conclusion_follows_the_findings(report: Report, conclusion: str) -> None:
    assert github.payload(report)["conclusion"] == conclusion


def test_json_reads_back_into_the_same_report() -> None:
    (text,) = cli.render(full_report(), "json")
    loaded = json.loads(text)
    assert (loaded["blocked"], loaded["blockingReasons"][0]) == (True, "1 invalid spec(s) at head")
    assert (loaded["verdict"], loaded["verdictText"]) == ("blocked", "would be blocked")
    del loaded["blocked"], loaded["blockingReasons"], loaded["verdict"], loaded["verdictText"]
    assert Report.model_validate(loaded) == full_report()


def test_markdown_parts_go_to_numbered_files(tmp_path: Path) -> None:
    deltas = tuple(delta(i, message="y" * 500) for i in range(400))
    report = full_report(deltas)
    target = tmp_path / "comment.md"
    cli.emit(cli.render(report, "markdown"), output=str(target))
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written[0] == "comment.md" and written[1] == "comment.part2.md"
    assert all(len(p.read_text()) <= markdown.LIMIT for p in tmp_path.iterdir())


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("plain", "`plain`"),
        ("one ` tick", "`` one ` tick ``"),
        ("closes `` early", "``` closes `` early ```"),
        ("```` four\nlines", "````` ```` four lines `````"),
        ("`edge`", "`` `edge` ``"),
    ],
)
def test_a_code_span_is_fenced_longer_than_any_run_of_backticks_in_it(text: str, span: str) -> None:
    assert details.code(text) == span


def test_a_message_cannot_close_its_code_span_and_a_long_one_keeps_its_fence() -> None:
    attack = "`` </details> **injected** [link](https://example.invalid) ``"
    long = "y" * 10_000
    found = full_report(deltas=(delta(1).model_copy(update={"messages": (attack, long)}),))
    text = "".join(markdown.render(found, details.sections(found)))
    assert f"  - ``` {attack} ```\n" in text
    assert f"  - `{'y' * 3_000}… [truncated: 7000 more characters]`\n" in text
