"""Scope matching, exceptions with expiry, gradual enforcement and the action table."""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import pytest

from reconciler.clock import ManualClock
from reconciler.policy import bindings
from reconciler.policy.decisions import Action, Outcome
from reconciler.specs import models
from reconciler.specs.models import Enforcement

WEB = bindings.Subject(
    kind="Deployment",
    group="apps",
    namespace="prod-eu",
    name="web-1",
    labels=MappingProxyType({"tier": "web", "team": "a"}),
)
CLUSTER = bindings.Subject(
    kind="File", group="reconciler.dev", namespace=None, name="motd", labels=MappingProxyType({})
)


def scope(**raw: Any) -> models.Scope:
    return models.Scope.model_validate(raw)


@pytest.mark.parametrize(
    ("raw", "subject", "expected"),
    [
        ({}, WEB, True),
        ({}, CLUSTER, True),
        ({"kinds": ["Deployment"]}, WEB, True),
        ({"kinds": ["apps/Deployment"]}, WEB, True),
        ({"kinds": ["batch/Deployment"]}, WEB, False),
        ({"kinds": ["Service", "Deploy*"]}, WEB, True),
        ({"kinds": ["Service"]}, WEB, False),
        ({"namespaces": ["prod-*"]}, WEB, True),
        ({"namespaces": ["dev-*"]}, WEB, False),
        ({"namespaces": ["prod-*"]}, CLUSTER, False),
        ({"excludedNamespaces": ["prod-eu"]}, WEB, False),
        ({"excludedNamespaces": ["prod-eu"]}, CLUSTER, True),
        ({"namespaces": ["prod-*"], "excludedNamespaces": ["*-eu"]}, WEB, False),
        ({"names": ["web-*"]}, WEB, True),
        ({"names": ["api-*"]}, WEB, False),
        ({"labelSelector": {"matchLabels": {"tier": "web"}}}, WEB, True),
        ({"labelSelector": {"matchLabels": {"tier": "db"}}}, WEB, False),
        (
            {
                "labelSelector": {
                    "matchExpressions": [{"key": "team", "operator": "In", "values": ["a", "b"]}]
                }
            },
            WEB,
            True,
        ),
        (
            {
                "labelSelector": {
                    "matchExpressions": [{"key": "team", "operator": "In", "values": ["b"]}]
                }
            },
            WEB,
            False,
        ),
        (
            {
                "labelSelector": {
                    "matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["b"]}]
                }
            },
            WEB,
            True,
        ),
        (
            {
                "labelSelector": {
                    "matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["a"]}]
                }
            },
            WEB,
            False,
        ),
        (
            {
                "labelSelector": {
                    "matchExpressions": [{"key": "owner", "operator": "NotIn", "values": ["a"]}]
                }
            },
            WEB,
            True,
        ),
        (
            {"labelSelector": {"matchExpressions": [{"key": "tier", "operator": "Exists"}]}},
            WEB,
            True,
        ),
        (
            {"labelSelector": {"matchExpressions": [{"key": "owner", "operator": "Exists"}]}},
            WEB,
            False,
        ),
        (
            {"labelSelector": {"matchExpressions": [{"key": "owner", "operator": "DoesNotExist"}]}},
            WEB,
            True,
        ),
        (
            {"labelSelector": {"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}},
            WEB,
            False,
        ),
        (
            {
                "kinds": ["Deployment"],
                "names": ["web-*"],
                "labelSelector": {"matchLabels": {"tier": "db"}},
            },
            WEB,
            False,
        ),
    ],
)
def test_scope_matches(raw: dict[str, Any], subject: bindings.Subject, expected: bool) -> None:
    assert bindings.scope_matches(scope(**raw), subject) is expected


NOW = datetime(2026, 6, 1, tzinfo=UTC)


def exception(name: str, expires: str | None, names: list[str]) -> models.PolicyException:
    return models.PolicyException.model_validate(
        {"name": name, "match": {"names": names}, "reason": "migrating", "expires": expires}
    )


@pytest.mark.parametrize(
    ("exceptions", "active", "expired"),
    [
        ([], None, []),
        ([exception("legacy", None, ["web-*"])], "legacy", []),
        ([exception("legacy", "2026-07-01T00:00:00Z", ["web-*"])], "legacy", []),
        ([exception("legacy", "2026-06-01T00:00:00Z", ["web-*"])], None, ["legacy"]),
        ([exception("legacy", "2026-05-01T00:00:00Z", ["web-*"])], None, ["legacy"]),
        ([exception("other", None, ["api-*"])], None, []),
        (
            [
                exception("old", "2026-01-01T00:00:00Z", ["web-*"]),
                exception("new", None, ["web-1"]),
            ],
            "new",
            ["old"],
        ),
    ],
)
def test_exceptions_apply_until_they_expire(
    exceptions: list[models.PolicyException], active: str | None, expired: list[str]
) -> None:
    found = bindings.match_exceptions(exceptions, WEB, now=NOW)
    assert (found.active.name if found.active else None) == active
    assert [e.name for e in found.expired] == expired


def test_gradual_is_advisory_before_the_deadline_and_strict_from_it() -> None:
    spec = models.PolicyBindingSpec.model_validate(
        {"policy": "p", "enforcement": "gradual", "gradual": {"deadline": "2026-01-02T00:00:00Z"}}
    )
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    assert bindings.effective_enforcement(spec, now=clock.now()) is Enforcement.ADVISORY
    clock.advance(86399)
    assert bindings.effective_enforcement(spec, now=clock.now()) is Enforcement.ADVISORY
    clock.advance(1)
    assert bindings.effective_enforcement(spec, now=clock.now()) is Enforcement.STRICT


@pytest.mark.parametrize(
    ("outcome", "enforcement", "exempted", "action"),
    [
        (Outcome.DENY, Enforcement.STRICT, False, Action.BLOCKED),
        (Outcome.DENY, Enforcement.ADVISORY, False, Action.WARNED),
        (Outcome.DENY, Enforcement.MONITOR, False, Action.RECORDED),
        (Outcome.ERROR, Enforcement.STRICT, False, Action.BLOCKED),
        (Outcome.ERROR, Enforcement.ADVISORY, False, Action.WARNED),
        (Outcome.WARN, Enforcement.STRICT, False, Action.WARNED),
        (Outcome.WARN, Enforcement.MONITOR, False, Action.RECORDED),
        (Outcome.ALLOW, Enforcement.STRICT, False, Action.ALLOWED),
        (Outcome.DENY, Enforcement.STRICT, True, Action.EXEMPTED),
    ],
)
def test_action_for(
    outcome: Outcome, enforcement: Enforcement, exempted: bool, action: Action
) -> None:
    assert bindings.action_for(outcome, enforcement, exempted=exempted) is action
