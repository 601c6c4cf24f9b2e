"""Evaluating bindings end to end with real regorus: rule conventions, actions, errors."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

from reconciler.clock import ManualClock
from reconciler.policy import bundle, evaluate
from reconciler.policy.decisions import Action, Decision, Outcome
from reconciler.specs.models import Enforcement
from tests.policy.conftest import NO_BUILTINS, make_snapshot

CONVENTIONS = """\
package conv
import rego.v1

deny contains msg if {
  endswith(input.spec.image, ":latest")
  msg := "image uses :latest"
}
deny_owner contains {"msg": "owner label missing", "details": 1} if not input.metadata.labels.owner
violation contains {"msg": "replicas must be positive"} if input.spec.replicas < 1
warn contains "no description" if not input.metadata.annotations.description
warn_team contains "no team label" if not input.metadata.labels.team
exception contains ["owner"] if input.metadata.name == "legacy"
"""
V0 = """\
package legacy.v0

deny[msg] {
  input.resource.spec.replicas > input.parameters.max
  msg := sprintf("%v replicas is more than %v", [
    input.resource.spec.replicas, input.parameters.max,
  ])
}
"""
HASHES = """\
package hashes
import rego.v1

deny contains msg if {
  crypto.sha256(input.resource.metadata.name) != "x"
  msg := "hash differs"
}
"""
REVIEWS = """\
package reviews
import rego.v1

deny contains msg if {
  input.change.action == "update"
  input.observed.spec.replicas != input.resource.spec.replicas
  msg := sprintf("replicas change %v -> %v at %v", [
    input.observed.spec.replicas, input.resource.spec.replicas, input.revision,
  ])
}
"""


def binding(name: str, policy: str, **spec: object) -> str:
    return json.dumps(
        {
            "apiVersion": "reconciler.dev/v1",
            "kind": "PolicyBinding",
            "metadata": {"name": name},
            "spec": {"policy": policy, **spec},
        }
    )


def deployment(name: str, *, replicas: int = 2, image: str = "app:v1", **labels: str) -> str:
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": "prod", "labels": labels},
            "spec": {"replicas": replicas, "image": image},
        }
    )


def run(files: dict[str, str], *, at: datetime | None = None) -> list[Decision]:
    snapshot = make_snapshot(files)
    compiled = bundle.compile(snapshot, builtin_dir=NO_BUILTINS)
    assert compiled.problems == ()
    clock = ManualClock(at or datetime(2026, 6, 1, tzinfo=UTC))
    return evaluate.Evaluator(compiled, clock=clock, revision="abc123").evaluate_all(snapshot)


def test_conftest_rules_and_exception() -> None:
    decisions = run(
        {
            "policies/conv.rego": CONVENTIONS,
            "policies/b.yaml": binding("conv", "conv", input="conftest"),
            "resources/a.yaml": deployment("bad", replicas=0, image="app:latest"),
            "resources/b.yaml": deployment("legacy", team="x"),
            "resources/c.yaml": deployment("fine", owner="me", team="x"),
        }
    )
    # A deny and a warning of one policy are two outcomes, each with its own messages.
    assert [(d.resource.name, d.outcome, d.action_taken, d.messages) for d in decisions] == [
        (
            "bad",
            Outcome.DENY,
            Action.BLOCKED,
            ("image uses :latest", "owner label missing", "replicas must be positive"),
        ),
        ("bad", Outcome.WARN, Action.WARNED, ("no description", "no team label")),
        ("legacy", Outcome.ALLOW, Action.ALLOWED, ()),
        ("legacy", Outcome.WARN, Action.WARNED, ("no description",)),
        ("fine", Outcome.ALLOW, Action.ALLOWED, ()),
        ("fine", Outcome.WARN, Action.WARNED, ("no description",)),
    ]
    assert [d.explanation for d in decisions[:4]] == [
        "conv denied Deployment/prod/bad (3 findings); strict enforcement blocks the change.",
        "conv warned about Deployment/prod/bad (2 findings); a warning does not block.",
        "conv allowed Deployment/prod/legacy; the policy's exception rule suppressed deny_owner.",
        "conv warned about Deployment/prod/legacy (1 finding); a warning does not block.",
    ]


def test_conftest_input_is_the_document_and_digest_is_its_canonical_json() -> None:
    doc = deployment("bad", image="app:latest")
    [decision, warning] = run(
        {
            "policies/conv.rego": CONVENTIONS,
            "policies/b.yaml": binding("conv", "conv", input="conftest"),
            "resources/a.yaml": doc,
        }
    )
    canonical = json.dumps(json.loads(doc), sort_keys=True, separators=(",", ":"))
    assert decision.input_digest == hashlib.sha256(canonical.encode()).hexdigest()
    assert warning.input_digest == decision.input_digest


def test_v0_module_with_reconciler_input_and_parameters() -> None:
    [decision] = run(
        {
            "policies/v0.rego": V0,
            "policies/b.yaml": binding("max", "legacy.v0", parameters={"max": 3}),
            "resources/a.yaml": deployment("big", replicas=5),
        }
    )
    assert decision.messages == ("5 replicas is more than 3",)
    assert decision.policy == "legacy.v0" and decision.binding == "max"
    assert decision.revision == "abc123"


def test_missing_builtin_is_an_error_decision_and_other_policies_still_run() -> None:
    decisions = run(
        {
            "policies/hashes.rego": HASHES,
            "policies/v0.rego": V0,
            "policies/b.yaml": binding("hash", "hashes")
            + "\n---\n"
            + binding("max", "legacy.v0", parameters={"max": 1}),
            "resources/a.yaml": deployment("big", replicas=5),
        }
    )
    assert [(d.binding, d.outcome, d.action_taken) for d in decisions] == [
        ("hash", Outcome.ERROR, Action.BLOCKED),
        ("max", Outcome.DENY, Action.BLOCKED),
    ]
    assert decisions[0].messages == (
        "policies/hashes.rego:5: data.hashes.deny: builtin crypto.sha256 is not available in the"
        " embedded Rego engine (regorus); rewrite the rule without it",
    )
    assert decisions[0].explanation == (
        "hashes could not evaluate Deployment/prod/big, which counts as a denial;"
        " strict enforcement blocks the change."
    )


def test_observed_change_and_revision_reach_the_policy() -> None:
    snapshot = make_snapshot(
        {
            "policies/r.rego": REVIEWS,
            "policies/b.yaml": binding("reviews", "reviews"),
            "resources/a.yaml": deployment("web", replicas=4),
        }
    )
    compiled = bundle.compile(snapshot, builtin_dir=NO_BUILTINS)
    evaluator = evaluate.Evaluator(compiled, clock=ManualClock(), revision="abc123")
    observed = json.loads(deployment("web", replicas=2))
    [decision] = evaluator.evaluate(
        snapshot.resources[0], observed=observed, change={"action": "update", "diff": []}
    )
    assert decision.messages == ("replicas change 2 -> 4 at abc123",)
    [fresh] = evaluator.evaluate(snapshot.resources[0])
    assert (
        fresh.outcome is Outcome.ALLOW
        and fresh.explanation == "reviews allowed Deployment/prod/web."
    )


GRADUAL = {"enforcement": "gradual", "gradual": {"deadline": "2026-06-01T00:00:00Z"}}


@pytest.mark.parametrize(
    ("spec", "at", "action", "clause"),
    [
        ({"enforcement": "strict"}, 1, Action.BLOCKED, "strict enforcement blocks the change"),
        (
            {"enforcement": "advisory"},
            1,
            Action.WARNED,
            "advisory enforcement lets it through with a warning",
        ),
        ({"enforcement": "monitor"}, 1, Action.RECORDED, "monitor enforcement only records it"),
        (
            GRADUAL,
            31,
            Action.WARNED,
            "gradual enforcement only warns until 2026-06-01T00:00:00+00:00",
        ),
        (
            GRADUAL,
            1,
            Action.BLOCKED,
            "gradual enforcement blocks it since its deadline 2026-06-01T00:00:00+00:00",
        ),
    ],
)
def test_enforcement_modes(spec: dict[str, object], at: int, action: Action, clause: str) -> None:
    when = datetime(2026, 6, 1, tzinfo=UTC) if at == 1 else datetime(2026, 5, at, tzinfo=UTC)
    [decision] = run(
        {
            "policies/v0.rego": V0,
            "policies/b.yaml": binding("max", "legacy.v0", parameters={"max": 1}, **spec),
            "resources/a.yaml": deployment("big", replicas=5),
        },
        at=when,
    )
    assert decision.action_taken is action
    assert decision.enforcement is Enforcement(spec["enforcement"])
    assert decision.explanation == f"legacy.v0 denied Deployment/prod/big (1 finding); {clause}."


@pytest.mark.parametrize(
    ("expires", "action", "tail"),
    [
        (
            "2026-07-01T00:00:00Z",
            Action.EXEMPTED,
            'exempted by exception "legacy" (migrating by Q3) until 2026-07-01T00:00:00+00:00.',
        ),
        (
            "2026-05-01T00:00:00Z",
            Action.BLOCKED,
            'exception "legacy" expired at 2026-05-01T00:00:00+00:00; strict enforcement blocks'
            " the change.",
        ),
    ],
)
def test_binding_exception_exempts_until_it_expires(
    expires: str, action: Action, tail: str
) -> None:
    exceptions = [
        {
            "name": "legacy",
            "match": {"names": ["big"]},
            "reason": "migrating by Q3",
            "expires": expires,
        }
    ]
    [decision] = run(
        {
            "policies/v0.rego": V0,
            "policies/b.yaml": binding(
                "max", "legacy.v0", parameters={"max": 1}, exceptions=exceptions
            ),
            "resources/a.yaml": deployment("big", replicas=5),
        }
    )
    assert decision.outcome is Outcome.DENY
    assert decision.action_taken is action
    assert decision.explanation == f"legacy.v0 denied Deployment/prod/big (1 finding); {tail}"


def test_scope_limits_which_resources_are_evaluated() -> None:
    decisions = run(
        {
            "policies/v0.rego": V0,
            "policies/b.yaml": binding(
                "max", "legacy.v0", parameters={"max": 1}, scope={"names": ["web-*"]}
            ),
            "resources/a.yaml": deployment("web-1", replicas=5),
            "resources/b.yaml": deployment("api-1", replicas=5),
        }
    )
    assert [d.resource.name for d in decisions] == ["web-1"]
