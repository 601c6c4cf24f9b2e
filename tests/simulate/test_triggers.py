"""Which workflows and runbooks a change starts: git path globs, violations, remediations."""

from __future__ import annotations

import pytest

from reconciler.simulate import triggers
from reconciler.simulate.records import DecisionDelta, Delta, Fire


@pytest.mark.parametrize(
    ("glob", "path", "matches"),
    [
        ("resources/**", "resources/a.yaml", True),
        ("resources/**", "resources/files/a.yaml", True),
        ("resources/*.yaml", "resources/files/a.yaml", False),
        ("resources/**/*.yaml", "resources/a.yaml", True),
        ("**/motd.yaml", "resources/files/motd.yaml", True),
        ("resources/?.yaml", "resources/ab.yaml", False),
        ("policies/**", "resources/a.yaml", False),
        ("a.b", "axb", False),
    ],
)
def test_path_globs(glob: str, path: str, matches: bool) -> None:
    assert triggers.path_matches(glob, path) is matches


def denied(binding: str, *, kind: Delta = Delta.NEWLY_DENIED) -> DecisionDelta:
    return DecisionDelta(
        delta=kind,
        binding=binding,
        policy="p",
        key="K//x",
        path="r.yaml",
        enforcement="strict",
        outcome_before=None,
        outcome_after="deny",
        action_before=None,
        action_after="blocked",
        blocking=True,
    )


def test_violation_triggers_and_remediations_follow_newly_denying_bindings() -> None:
    facts = {
        "workflows": [
            {"name": "page", "triggers": [{"violation": {"binding": "labels"}}, {"manual": {}}]},
            {"name": "other", "triggers": [{"violation": {"binding": "quota"}}]},
            {"name": "any-change", "triggers": [{"git": {}}]},
        ],
        "remediations": {
            "labels": {"runbook": "relabel", "workflow": None, "approval": "required"},
            "quota": {"runbook": "shrink", "approval": "auto"},
        },
    }
    fires = triggers.fires(
        facts=facts,
        changed=["a.yaml", "b.yaml", "c.yaml", "d.yaml"],
        deltas=[denied("labels"), denied("labels"), denied("quota", kind=Delta.NEWLY_ALLOWED)],
    )
    assert fires == [
        Fire(
            kind="Workflow",
            name="page",
            trigger="violation",
            reason="binding labels newly denies 2 resource(s)",
        ),
        Fire(
            kind="Workflow",
            name="any-change",
            trigger="git",
            reason="git paths (any) match a.yaml, b.yaml, c.yaml (+1 more)",
        ),
        Fire(
            kind="Runbook",
            name="relabel",
            trigger="remediation",
            reason="remediation of binding labels, which newly denies 2 resource(s); "
            "approval: required",
        ),
    ]
