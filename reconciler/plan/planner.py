"""Desired state (from Git) and observed state (from providers) in, a plan of changes out.

For every desired object: `create` when nothing is observed, `update` when the normalised
documents differ (see `ignore`), `noop` otherwise. Deletes are planned only for objects this
daemon created earlier (the `inventory`) that are no longer desired and still observed, and
only when pruning is on; otherwise they are reported as `Plan.orphans`. Objects neither
desired nor in the inventory belong to someone else and are never touched.

A change's `diff` turns its normalised observed document into its normalised desired one
(for a create, from `{}`; a delete has none), so `diffs.apply(observed, change.diff)` reaches
the desired state while keeping the fields the provider added. `desired` and `observed` are
the documents as given, which is what providers apply and policies read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from reconciler.plan import diffs, ignore, order


class Action(StrEnum):
    """What the plan does to one object."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    NOOP = "noop"


@dataclass(frozen=True, kw_only=True)
class Change:
    """One object's planned change; `wave` is from its ordering annotation."""

    action: Action
    key: str
    kind: str
    diff: tuple[diffs.DiffItem, ...] = ()
    desired: dict[str, Any] | None = None
    observed: dict[str, Any] | None = None
    wave: int = 0

    def as_json(self) -> dict[str, Any]:
        """The change as policies see it in `input.change`."""
        return {"action": str(self.action), "diff": [item.as_json() for item in self.diff]}


@dataclass(frozen=True, kw_only=True)
class Plan:
    """Changes in run order (see `order`), and inventory objects left in place."""

    changes: tuple[Change, ...] = ()
    orphans: tuple[str, ...] = ()

    def counts(self) -> dict[Action, int]:
        """How many changes of each action, every action present (zero when none)."""
        found = Counter(change.action for change in self.changes)
        return {action: found[action] for action in Action}

    def by_action(self, action: Action) -> tuple[Change, ...]:
        return tuple(change for change in self.changes if change.action is action)

    @property
    def pending(self) -> tuple[Change, ...]:
        """The changes that do something (everything but no-ops)."""
        return tuple(change for change in self.changes if change.action is not Action.NOOP)

    @property
    def converged(self) -> bool:
        return not self.pending

    def summary(self) -> str:
        counts = self.counts()
        return (
            f"{counts[Action.CREATE]} to create, {counts[Action.UPDATE]} to update, "
            f"{counts[Action.DELETE]} to delete, {counts[Action.NOOP]} unchanged"
        )


def plan(
    *,
    desired: Mapping[str, dict[str, Any]],
    observed: Mapping[str, dict[str, Any] | None],
    inventory: Set[str],
    prune: bool,
    rules: Sequence[ignore.IgnoreRule] = (),
) -> Plan:
    """The plan that takes `observed` to `desired`; raises `order.DependencyError` and
    `order.DependencyCycleError` when the ordering annotations are wrong."""
    placements = {key: order.placement(key=key, body=body) for key, body in desired.items()}
    changes = [
        replace(
            _change(key=key, desired=desired[key], observed=observed.get(key), rules=rules),
            wave=placements[key].wave,
        )
        for key in order.ordered(placements)
    ]
    gone = sorted(k for k in inventory if k not in desired and observed.get(k) is not None)
    if prune:
        changes += _deletes({key: observed[key] for key in gone})
    return Plan(changes=tuple(changes), orphans=() if prune else tuple(gone))


def _change(
    *,
    key: str,
    desired: dict[str, Any],
    observed: dict[str, Any] | None,
    rules: Sequence[ignore.IgnoreRule],
) -> Change:
    want, have = ignore.normalise(desired, observed or {}, rules=rules)
    items = diffs.diff(have, want)
    action = Action.CREATE if observed is None else Action.UPDATE if items else Action.NOOP
    return Change(
        action=action, key=key, kind=_kind(key), diff=items, desired=desired, observed=observed
    )


def _deletes(observed: Mapping[str, dict[str, Any] | None]) -> list[Change]:
    return [
        Change(
            action=Action.DELETE,
            key=key,
            kind=_kind(key),
            observed=observed[key],
            wave=order.deletion_placement(key=key, body=observed[key]).wave,
        )
        for key in order.deletion_order(observed)
    ]


def _kind(key: str) -> str:
    return key.partition("/")[0]
