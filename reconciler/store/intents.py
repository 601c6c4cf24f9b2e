"""Applies the daemon is about to make, recorded before the provider is called.

A pass records an intent for an object (in its source, at a revision) right after the
decisions that allow the change, before the provider changes anything, and forgets it
when the pass writes the object's status. A daemon killed in between leaves the intent
behind: the next pass that finds the object in sync at that revision knows the change was
made by the pass the kill cut short, and records it as applied (status history, a
`ResourceApplied` event and its audit entry) instead of losing it; a pass that finds the
object still to change at that revision applies it under the decisions the killed pass
logged with the intent, without logging them again. `sql.intents` holds the table and
queries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, kw_only=True)
class ApplyIntent:
    key: str
    source: str
    revision: str
    at: datetime


class Intents(Protocol):
    """The store's role for applies about to be made."""

    def intend_apply(self, intents: Iterable[ApplyIntent]) -> None:
        """Record (or replace) the intents to apply objects, in one transaction."""
        ...

    def apply_intents(self, source: str) -> dict[str, ApplyIntent]:
        """The intents a source's passes left, by object key."""
        ...

    def forget_intents(self, source: str, keys: Iterable[str]) -> None:
        """Drop the intents of objects whose status has been written."""
        ...
