"""The decision log's record: what a policy said about a resource, and what was done.

A `Decision` is immutable and carries the digest of the exact input it was made on, so
the log can be replayed against another version of the policies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from reconciler.specs.models import Enforcement


class Outcome(StrEnum):
    """What the policy said."""

    ALLOW = "allow"
    DENY = "deny"
    WARN = "warn"
    ERROR = "error"  # evaluation failed (e.g. a builtin regorus lacks); treated as deny


class Action(StrEnum):
    """What the gate did with the change because of it."""

    ALLOWED = "allowed"
    BLOCKED = "blocked"
    WARNED = "warned"
    RECORDED = "recorded"
    EXEMPTED = "exempted"
    # A denial that would block, found where nothing was being changed: a document the
    # daemon does not manage (evaluated as data), or a policy audit of observed state.
    VIOLATION = "violation"


@dataclass(frozen=True, kw_only=True)
class ResourceRef:
    api_version: str
    kind: str
    namespace: str | None
    name: str
    path: str

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.namespace or ''}/{self.name}"

    def as_json(self) -> dict[str, Any]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "path": self.path,
        }


@dataclass(frozen=True, kw_only=True)
class Decision:
    policy: str
    binding: str
    resource: ResourceRef
    outcome: Outcome
    messages: tuple[str, ...]
    enforcement: Enforcement
    action_taken: Action
    revision: str | None
    input_digest: str
    explanation: str
    at: datetime

    def as_json(self) -> dict[str, Any]:
        """The stable JSON shape used by `eval --format json`, the API and the store."""
        return {
            "policy": self.policy,
            "binding": self.binding,
            "resource": self.resource.as_json(),
            "outcome": self.outcome.value,
            "enforcement": self.enforcement.value,
            "action": self.action_taken.value,
            "messages": list(self.messages),
            "revision": self.revision,
            "inputDigest": self.input_digest,
            "explanation": self.explanation,
            "at": self.at.isoformat(),
        }
