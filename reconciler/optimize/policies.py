"""Policy recommendations: what the decision history says about the repository's bindings.

Three readings of the store's decision log (the gate's and the audit's decisions per
binding and resource) and of the daemon's remediation decisions, over
`optimization.recommendations.window`:

- **promote** a binding one step along monitor -> advisory -> gradual -> strict when it has
  held its enforcement for the whole window, made at least `minDecisions` decisions in it,
  violated in fewer than `promoteBelow` of them and violates nothing now (gradual gets a
  deadline `ramp` from now);
- **except** a resource that violated at least `exceptionAfter` times in the window, still
  does, and whose remediation a human approved every time (at least as often): an
  exception with a reason and an `expires` `exceptionFor` from now is added to the binding;
- **flag** a binding that never fired in the window (no violation; or no decision at all:
  nothing in its scope was evaluated) — a report entry of the run, no change.

Promotions and exceptions are `Change`s, proposed like any optimization (`proposals.py`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from reconciler.decide.records import Outcome as DecisionOutcome
from reconciler.optimize.records import Change
from reconciler.policy.decisions import Action, Decision, Outcome
from reconciler.specs import models, types
from reconciler.specs.optimization import Recommendations
from reconciler.specs.snapshot import Document, Snapshot
from reconciler.store.daemon_decisions import DaemonDecisions
from reconciler.store.interfaces import DecisionLog

LADDER = (
    models.Enforcement.MONITOR,
    models.Enforcement.ADVISORY,
    models.Enforcement.GRADUAL,
    models.Enforcement.STRICT,
)
PROMOTE = (
    "the strictest enforcement the binding's decision history shows it holds: one step "
    "along monitor -> advisory -> gradual -> strict after a window with (almost) no violations"
)
EXCEPT = (
    "an exception, with a reason and an expiry, for a violation people keep accepting: "
    "its remediation was approved every time"
)
HISTORY = 100_000  # decisions read per policy: far more than a window holds
REFUSED = (DecisionOutcome.REJECTED.value, DecisionOutcome.EXPIRED.value)


class HistoryStore(DecisionLog, DaemonDecisions, Protocol):
    """What recommendations read: the decision log and the daemon's decisions."""


@dataclass(frozen=True, kw_only=True)
class Found:
    changes: tuple[Change, ...] = ()
    skipped: tuple[str, ...] = ()  # "<subject>: why nothing is proposed"
    flagged: tuple[str, ...] = ()  # rules that never fired


@dataclass(kw_only=True)
class _Binding:
    doc: Document
    spec: models.PolicyBindingSpec
    history: list[Decision]  # newest first
    start: datetime
    violating_now: list[Decision] = field(default_factory=list)

    @property
    def recent(self) -> list[Decision]:
        return [d for d in self.history if d.at >= self.start]


def recommend(
    snap: Snapshot, *, store: HistoryStore, settings: Recommendations, now: datetime
) -> Found:
    """What the decision history recommends for every binding of `snap`."""
    start = now - timedelta(seconds=types.seconds(settings.window))
    changes: list[Change] = []
    skipped: list[str] = []
    flagged: list[str] = []
    logged: dict[str, tuple[list[Decision], list[Decision]]] = {}  # per policy, read once
    for doc, binding in snap.bindings:
        policy = binding.spec.policy
        if policy not in logged:
            logged[policy] = (
                store.decisions(policy=policy, limit=HISTORY),
                store.violations(policy=policy),
            )
        history, violations = logged[policy]
        found = _Binding(
            doc=doc,
            spec=binding.spec,
            history=[d for d in history if d.binding == doc.name],
            start=start,
            violating_now=[
                d
                for d in violations
                if d.binding == doc.name and d.action_taken is not Action.EXEMPTED
            ],
        )
        promoted = promotion(found, settings=settings, now=now)
        if isinstance(promoted, Change):
            changes.append(promoted)
        elif promoted:
            skipped.append(f"recommend/promote-{doc.name}: {promoted}")
        changes += exceptions(found, store=store, settings=settings, now=now)
        flag = never_fired(found, window=settings.window)
        if flag:
            flagged.append(flag)
    return Found(changes=tuple(changes), skipped=tuple(skipped), flagged=tuple(flagged))


def promotion(b: _Binding, *, settings: Recommendations, now: datetime) -> Change | str:
    """The promotion `b`'s history supports, or why there is none ("" for a strict one)."""
    current = b.spec.enforcement
    if current is models.Enforcement.STRICT:
        return ""
    since = _held_since(b.history, current)
    if since is None or since > b.start:
        held = f" since {_iso(since)}" if since else ": no decision logged at it yet"
        return f"{current.value}{held}; promoted after holding it for {settings.window}"
    recent = b.recent
    if len(recent) < settings.min_decisions:
        return f"{len(recent)} decisions in {settings.window}; {settings.min_decisions} needed"
    if b.violating_now:
        keys = ", ".join(sorted({d.resource.key for d in b.violating_now}))
        return f"violates now ({keys})"
    rate = sum(_violates(d) for d in recent) / len(recent)
    if rate >= settings.promote_below:
        below = f"{settings.promote_below:.1%}"
        return f"violation rate {rate:.1%} over {settings.window} (promoted below {below})"
    step = LADDER[LADDER.index(current) + 1]
    also: dict[str, Any] = {}
    if step is models.Enforcement.GRADUAL:
        deadline = now + timedelta(seconds=types.seconds(settings.ramp))
        also["spec.gradual.deadline"] = _iso(deadline)
    return Change(
        optimizer="recommend",
        name=f"promote-{b.doc.name}",
        objective=PROMOTE,
        resource=b.doc.key,
        path=b.doc.path,
        index=b.doc.index,
        field="spec.enforcement",
        old=current.value,
        new=step.value,
        reason=(
            f"{b.doc.name} ({b.spec.policy}) has been {current.value} since "
            f"{_iso(since)}: {len(recent)} decisions in the last {settings.window}, "
            f"{rate:.1%} violations (below {settings.promote_below:.1%}), none now"
        ),
        metric="",
        also=also,
    )


def exceptions(
    b: _Binding, *, store: DaemonDecisions, settings: Recommendations, now: datetime
) -> list[Change]:
    """An exception for each resource of `b` that keeps violating with every remediation
    approved (see the module doc)."""
    made = []
    for key, count in _persistent(b, least=settings.exception_after).items():
        approved = _approvals(store, subject=f"{b.doc.name}/{key}", since=b.start)
        if approved is None or len(approved) < settings.exception_after:
            continue
        kind, namespace, name = key.split("/", 2)
        expires = _iso(now + timedelta(seconds=types.seconds(settings.exception_for)))
        reason = (
            f"{key} violated {b.spec.policy} {count} times in the last {settings.window} "
            f"and its remediation was approved each time ({len(approved)} approvals by "
            f"{', '.join(sorted(set(approved)))}): exempted until {expires}, then reviewed"
        )
        entry: dict[str, Any] = {
            # Dated, so it never takes the name of an earlier one that expired.
            "name": _slug(f"accepted-{kind}-{namespace}-{name}-until-{expires[:10]}"),
            "match": {
                "kinds": [kind],
                **({"namespaces": [namespace]} if namespace else {}),
                "names": [name],
            },
            "reason": reason,
            "expires": expires,
        }
        made.append(
            Change(
                optimizer="recommend",
                name=_slug(f"except-{b.doc.name}-{kind}-{namespace}-{name}"),
                objective=EXCEPT,
                resource=b.doc.key,
                path=b.doc.path,
                index=b.doc.index,
                field="spec.exceptions",
                old=None,
                new=entry,
                reason=reason,
                metric="",
                append=True,
            )
        )
    return made


def never_fired(b: _Binding, *, window: str) -> str:
    """The report entry for a binding that found nothing to say in the window, else ""."""
    recent = b.recent
    if not recent:
        return (
            f"{b.doc.path}:{b.doc.line} {b.doc.name} ({b.spec.policy}): no decision in "
            f"{window}: nothing in its scope was evaluated"
        )
    if any(_violates(d) for d in recent) or b.violating_now:
        return ""
    return (
        f"{b.doc.path}:{b.doc.line} {b.doc.name} ({b.spec.policy}): never fired in "
        f"{window} ({len(recent)} decisions, no violation): check its scope or retire it"
    )


def _held_since(history: Sequence[Decision], current: models.Enforcement) -> datetime | None:
    """When the binding's decisions started being made at `current` enforcement."""
    since = None
    for d in history:  # newest first
        if d.enforcement is not current:
            break
        since = d.at
    return since


def _persistent(b: _Binding, *, least: int) -> dict[str, int]:
    """Resources violating now that violated at least `least` times in the window."""
    now = {d.resource.key for d in b.violating_now}
    counts: dict[str, int] = {}
    for d in b.recent:
        if _violates(d) and d.resource.key in now:
            counts[d.resource.key] = counts.get(d.resource.key, 0) + 1
    return {k: n for k, n in sorted(counts.items()) if n >= least}


def _approvals(store: DaemonDecisions, *, subject: str, since: datetime) -> list[str] | None:
    """The approvers of the remediations of `subject` since `since`; None when any of them
    was refused, unanswered, or taken without a human."""
    found = []
    for entry in store.daemon_decisions(type="remediation", subject=subject, limit=10_000):
        approver = entry.record.get("approver")
        if entry.at < since or (entry.outcome == DecisionOutcome.PENDING.value and not approver):
            continue  # before the window, or still waiting for its answer
        if entry.outcome in REFUSED or not approver:
            return None
        found.append(str(approver))
    return found


def _violates(d: Decision) -> bool:
    return d.outcome in (Outcome.DENY, Outcome.ERROR) and d.action_taken is not Action.EXEMPTED


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80]


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
