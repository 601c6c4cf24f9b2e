"""The daemon's log of what it decided: blocks, rejections, drift, denials and failures.

A bus subscriber, like the metrics and the store writer: the controller publishes events
and never logs them itself. Every line names the source, the object, the policy (when one
decided) and the revision, in the message for people and as structured fields for the
JSON-lines format (`serve --log-format json`). Changes that went through quietly are not
logged; the event list and the decision log keep them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from reconciler.events import Event, EventType

log = logging.getLogger("reconciler.eventlog")

_RESOURCE = {
    EventType.RESOURCE_APPLIED,
    EventType.RESOURCE_DELETED,
    EventType.RESOURCE_BLOCKED,
    EventType.RESOURCE_FAILED,
}


def subscriber(event: Event) -> None:
    """Log `event` if it is one an operator must be able to find in the log."""
    for level, text, fields in _lines(event):
        log.log(level, "%s", text, extra={"fields": fields})


def _lines(event: Event) -> Iterator[tuple[int, str, dict[str, Any]]]:
    data = event.data
    revision = data.get("revision")
    base = {
        "event": event.type.value,
        "source": event.source,
        "object": event.object_key,
        "revision": revision,
    }
    at = f"{event.source}@{_short(revision)}"
    if event.type is EventType.REVISION_REJECTED:
        reason = data.get("reason")
        yield (
            logging.WARNING,
            f"revision rejected: {at}: {event.message}",
            base | {"reason": reason},
        )
    elif event.type is EventType.DRIFT_DETECTED:
        yield (
            logging.INFO,
            f"drift detected: {event.object_key} ({at}): {event.message}",
            base | {"corrected": False},
        )
    elif event.type is EventType.DRIFT_CORRECTED:
        yield (
            logging.INFO,
            f"drift corrected: {event.object_key} ({at}): {event.message}",
            base | {"corrected": True},
        )
    elif event.type is EventType.POLICY_VIOLATION:
        yield _decision(
            data | {"audit": True}, base=base, at=at, key=event.object_key, message=event.message
        )
    elif event.type in _RESOURCE:
        yield from _resource(event, base=base, at=at)


def _resource(
    event: Event, *, base: dict[str, Any], at: str
) -> Iterator[tuple[int, str, dict[str, Any]]]:
    denials = event.data.get("denials") or []
    policies = [d["policy"] for d in denials if d.get("action") == "blocked"]
    if event.type is EventType.RESOURCE_BLOCKED:
        by = f" by {', '.join(policies)}" if policies else ""
        text = f"blocked{by}: {event.object_key} ({at}): {event.message}"
        yield logging.WARNING, text, base | {"policy": policies[0] if policies else None}
    elif event.type is EventType.RESOURCE_FAILED:
        yield logging.WARNING, f"failed: {event.object_key} ({at}): {event.message}", base
    for denial in denials:
        if denial.get("action") != "blocked":  # let through: warned, recorded or exempted
            yield _decision(denial, base=base, at=at, key=event.object_key)


def _decision(
    data: dict[str, Any],
    *,
    base: dict[str, Any],
    at: str,
    key: str | None,
    message: str | None = None,
) -> tuple[int, str, dict[str, Any]]:
    policy, action, outcome = data.get("policy"), data.get("action"), data.get("outcome")
    kind = "violation" if data.get("audit") else "denial"
    strict = kind == "violation" and data.get("enforcement") == "strict"
    level = logging.WARNING if action == "blocked" or strict else logging.INFO
    explanation = message or data.get("explanation") or ""
    text = f"policy {kind}: {policy} {outcome} {key} ({at}), {action}: {explanation}"
    fields = base | {
        "event": "PolicyDenial" if kind == "denial" else "PolicyViolation",
        "policy": policy,
        "binding": data.get("binding"),
        "outcome": outcome,
        "action": action,
    }
    return level, text, fields


def _short(revision: Any) -> str:
    return str(revision)[:12] if revision else "-"
