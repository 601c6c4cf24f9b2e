"""A notice as a message: a title from a small template per event type, and the event's text.

Templates are `string.Template`s with fixed fields (a field the event lacks reads `-`): the
event's fields are data, substituted once and never read as a template themselves (a
message holding `$key` or `{{ }}` comes out as written).
"""

from __future__ import annotations

import json
from string import Template
from typing import Any

from reconciler.notify.notices import APPROVAL_REQUESTED, REGRESSION_ROLLED_BACK, Notice

TITLES: dict[str, Template] = {
    "ResourceBlocked": Template("Change to $key blocked by policy$where"),
    "DriftDetected": Template("Drift detected on $key$where"),
    "RunUpdated": Template("Run failed: $kind $name ($run)"),
    APPROVAL_REQUESTED: Template("Approval waiting: step $step of run $run"),
    "ApprovalEscalated": Template("Approval escalated: step $step of run $run"),
    "DecisionTaken": Template("Decision taken automatically ($level): $option for $subject"),
    REGRESSION_ROLLED_BACK: Template("Regression rolled back: $key$where"),
}
FALLBACK = Template("$type $key$where")


def message(notice: Notice) -> dict[str, Any]:
    """The stored message: what every channel renders from."""
    return {
        "title": title(notice),
        "text": notice.message,
        "severity": notice.severity.value,
        "event": {
            "type": notice.type,
            "at": notice.at.isoformat(),
            "source": notice.source,
            "objectKey": notice.object_key,
            "message": notice.message,
            "data": json.loads(json.dumps(notice.data, default=str)),
        },
    }


def title(notice: Notice) -> str:
    return TITLES.get(notice.type, FALLBACK).substitute(_fields(notice))


class _Fields(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "-"


def _fields(notice: Notice) -> _Fields:
    run = notice.data.get("run") or (notice.object_key or "").removeprefix("run/")
    fields = _Fields({name: _text(value) for name, value in notice.data.items()})
    fields.update(
        type=notice.type,
        key=notice.object_key or "-",
        source=notice.source,
        where=f" in {notice.source}" if notice.source else "",
        severity=notice.severity.value,
        run=_text(run),
    )
    return fields


def _text(value: Any) -> str:
    return "-" if value is None else str(value)
