"""Which workflows and runbooks a change would start, and why.

Three causes: a workflow `git` trigger whose path globs match a changed path (`**` spans
folders, `*` stays within one; no globs means any change), a `violation` trigger naming a
binding that newly denies something, and a binding's `remediation` (runbook or workflow)
when that binding newly denies something.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reconciler.run import triggers
from reconciler.simulate.records import DecisionDelta, Delta, Fire

_SHOWN = 3


_pattern = triggers.glob_regex  # one glob dialect for workflow triggers and simulations


def path_matches(glob: str, path: str) -> bool:
    """Git-style path glob: `resources/**` matches every file under resources/."""
    return _pattern(glob).match(path) is not None


def fires(
    *, facts: Mapping[str, Any], changed: Sequence[str], deltas: Iterable[DecisionDelta]
) -> list[Fire]:
    denying: dict[str, int] = {}
    for d in deltas:
        if d.delta is Delta.NEWLY_DENIED:
            denying[d.binding] = denying.get(d.binding, 0) + 1
    out: list[Fire] = []
    for workflow in facts.get("workflows", []):
        out += _workflow_fires(workflow, changed=changed, denying=denying)
    for binding, remediation in sorted((facts.get("remediations") or {}).items()):
        if binding not in denying:
            continue
        for kind in ("runbook", "workflow"):
            name = remediation.get(kind)
            if name:
                reason = (
                    f"remediation of binding {binding}, which newly denies "
                    f"{denying[binding]} resource(s); approval: {remediation['approval']}"
                )
                out.append(Fire(kind=kind.title(), name=name, trigger="remediation", reason=reason))
    return out


def _workflow_fires(
    workflow: Mapping[str, Any], *, changed: Sequence[str], denying: Mapping[str, int]
) -> list[Fire]:
    out = []
    for trigger in workflow.get("triggers", []):
        if not isinstance(trigger, dict):
            continue
        if isinstance(trigger.get("git"), dict) and changed:
            globs = trigger["git"].get("paths") or []
            matched = [p for p in changed if not globs or any(path_matches(g, p) for g in globs)]
            if matched:
                more = f" (+{len(matched) - _SHOWN} more)" if len(matched) > _SHOWN else ""
                reason = (
                    f"git paths {', '.join(globs) or '(any)'} match "
                    f"{', '.join(matched[:_SHOWN])}{more}"
                )
                out.append(
                    Fire(kind="Workflow", name=workflow["name"], trigger="git", reason=reason)
                )
        binding = (
            (trigger.get("violation") or {}).get("binding")
            if isinstance(trigger.get("violation"), dict)
            else None
        )
        if binding and binding in denying:
            reason = f"binding {binding} newly denies {denying[binding]} resource(s)"
            out.append(
                Fire(kind="Workflow", name=workflow["name"], trigger="violation", reason=reason)
            )
    return out
