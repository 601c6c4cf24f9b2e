"""An optimization as the daemon keeps it: the change an optimizer wants, and where its
proposal stands. A proposal is stored as a daemon decision (type `optimization`, or
`optimization-revert` for a rollback) whose context facts hold the change, the branch and
commit, the simulation verdict, the state and, once measured, the regression verdict; so
its explanation, level and outcome are the decision engine's, and listing optimizations is
listing those decisions."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from reconciler.decide import ledger
from reconciler.decide.records import DecisionRecord
from reconciler.events import Bus, EventType
from reconciler.optimize import yamledit

TYPES = ("optimization", "optimization-revert", "recommendation")


class State(StrEnum):
    """Where a proposal stands."""

    PROPOSED = "proposed"  # on its branch, waiting for a human to merge it
    BLOCKED = "blocked"  # its simulation shows a strict denial: on its branch, never merged
    LANDED = "landed"  # on the watched branch; the regression test has yet to run
    KEPT = "kept"  # landed and the regression test found its objective no worse
    REGRESSED = "regressed"  # landed, then its objective got worse: a revert was proposed
    REVERTED = "reverted"  # landed, regressed, and the revert landed
    CLOSED = "closed"  # never landed: its branch was deleted, or a newer proposal replaced it


@dataclass(frozen=True, kw_only=True)
class Change:
    """One field of one document to set, why, and the metric that must not get worse
    (none for a policy recommendation, whose change is to the policies, not to a load)."""

    optimizer: str
    name: str
    objective: str
    resource: str  # kind/namespace/name
    path: str  # file in the repository
    index: int  # document in the file
    field: str  # dotted keys
    old: Any  # a number for the optimizers; text or a mapping for recommendations
    new: Any
    reason: str
    metric: str
    higher_is_worse: bool = True
    tradeoff: tuple[dict[str, float], ...] = ()
    unit: str = ""  # "duration": seconds, written like 2m; "integer": written as a whole number
    learner: dict[str, Any] | None = None  # the learner's choice, when it chose (learning.py)
    append: bool = False  # `new` is added to the list at `field` (an exception, say)
    # further fields set in the same document: dotted key -> value
    also: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def edits(self) -> list[yamledit.Edit]:
        """The edits that make the change in its document."""
        first = yamledit.Edit(field=self.field, value=self.written, append=self.append)
        more = [yamledit.Edit(field=k, value=v, create=True) for k, v in self.also.items()]
        return [first, *more]

    @property
    def written(self) -> Any:
        """`new` as it is written into the file."""
        if self.unit == "duration":
            return duration(self.new)
        return round(self.new) if self.unit == "integer" else self.new

    @property
    def subject(self) -> str:
        return f"{self.optimizer}/{self.name}"

    def reverted(self, *, reason: str) -> Change:
        return replace(self, old=self.new, new=self.old, reason=reason, tradeoff=(), learner=None)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def duration(seconds: float) -> str:
    """Whole seconds as the shortest duration text: 3600 -> 1h, 120 -> 2m, 90 -> 90s."""
    whole = int(seconds)
    for suffix, size in (("h", 3600), ("m", 60)):
        if whole and whole % size == 0:
            return f"{whole // size}{suffix}"
    return f"{whole}s"


def shown(value: Any) -> str:
    """A change's value for people: numbers as `:g`, a mapping by its name, else as text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:g}"
    if isinstance(value, dict):
        return f"+{value.get('name', 'entry')}"
    return "-" if value is None else str(value)


def change_of(record: DecisionRecord) -> Change:
    data = dict(record.context.facts["change"])
    data["tradeoff"] = tuple(data.get("tradeoff") or ())
    data["also"] = dict(data.get("also") or {})
    return Change(**data)


def state_of(record: DecisionRecord) -> State:
    return State(record.context.facts["state"])


def announce(
    bus: Bus | None, type: EventType, record: DecisionRecord, *, at: datetime, message: str
) -> None:
    """Publish a decision event as remediations do, so the audit log, notifications and
    the event feed see optimizations too (nothing without a bus: the CLI has none)."""
    if bus is None:
        return
    state = {"state": record.context.facts.get("state")}
    bus.publish(ledger.event(record, type, at=at, message=message, extra=state))


def with_facts(record: DecisionRecord, **updates: Any) -> DecisionRecord:
    """`record` with its context's facts updated."""
    facts = {**record.context.facts, **updates}
    return replace(record, context=replace(record.context, facts=facts))
