"""What a controller remembers of its objects from one pass to the next.

The stored statuses are read once (the controller is the only writer of its source's
statuses) and kept in step with what each pass writes. Per object it also remembers the
desired document its status describes, the one last applied or found in sync, and the
observed state when it was last found in sync: enough to tell, without planning, that an
object is in sync again, and to recognise drift. After a restart that memory is rebuilt
from the object's last applied revision in Git.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from reconciler.reconcile.revisions import SourceLoader
from reconciler.specs.snapshot import Document
from reconciler.store.interfaces import ObjectStatus, Store


@dataclass(frozen=True, kw_only=True)
class Known:
    """What the controller remembers of one object between passes."""

    desired: dict[str, Any]  # the desired document its status describes
    applied: dict[str, Any] | None  # the desired document last applied or found in sync
    observed: dict[str, Any] | None = None  # observed state when last found in sync


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal documents; cheap when they are one object."""
    # Unchanged files keep their parsed body object across revisions (the spec cache).
    return a is b or a == b


@dataclass(kw_only=True)
class Memory:
    """The statuses and `Known` objects of one source, across passes."""

    loader: SourceLoader
    statuses: dict[str, ObjectStatus] = field(default_factory=dict)  # as stored
    known: dict[str, Known] = field(default_factory=dict)
    applied: set[str] = field(default_factory=set)  # keys with a status saying they were applied
    unsettled: set[str] = field(default_factory=set)  # keys the last pass did not find in sync
    _loaded: bool = False
    _gone_docs: dict[str, Document | None] = field(default_factory=dict)  # as last applied

    def load_statuses(self, *, store: Store, source: str) -> dict[str, ObjectStatus]:
        """The stored statuses of `source`, read from `store` the first time only."""
        if not self._loaded:
            self.statuses = {s.key: s for s in store.list_status(source=source)}
            self.applied = {k for k, s in self.statuses.items() if s.last_applied_revision}
            self._loaded = True
        return self.statuses

    def settled(self, key: str, *, desired: dict[str, Any], observed: Any) -> bool:
        """True when `key` is as the pass that last found it in sync saw it."""
        known = self.known.get(key)
        return (
            known is not None
            and known.observed is not None
            and same(known.desired, desired)
            and known.observed == observed
        )

    def recall(self, key: str, status: ObjectStatus | None) -> Known | None:
        """What is known of `key`; after a restart, rebuilt from its last applied revision."""
        known = self.known.get(key)
        if known is None and status is not None and status.last_applied_revision:
            doc = self.loader.document_at(status.last_applied_revision, key)
            if doc is not None:
                known = self.known[key] = Known(desired=doc.body, applied=doc.body)
        return known

    def last_applied(self, key: str) -> Document | None:
        """The document `key` as last applied, for an object that left Git."""
        if key not in self._gone_docs:
            revision = self.statuses[key].last_applied_revision
            assert revision is not None
            self._gone_docs[key] = self.loader.document_at(revision, key)
        return self._gone_docs[key]

    def in_sync(self, key: str, *, body: dict[str, Any], observed: Any) -> None:
        """This pass found `key` in sync with its desired document `body`."""
        self.known[key] = Known(desired=body, applied=body, observed=observed)
        self.unsettled.discard(key)

    def not_in_sync(self, key: str, *, body: dict[str, Any], applied: bool) -> None:
        """This pass left `key` out of sync, or just `applied` its desired document `body`."""
        known = self.known.get(key)
        last = body if applied else known.applied if known else None
        self.known[key] = Known(desired=body, applied=last)
        self.unsettled.add(key)

    def forget_observed(self) -> None:
        """Observed states prove nothing any more (e.g. the ignore rules changed)."""
        self.known = {k: Known(desired=v.desired, applied=v.applied) for k, v in self.known.items()}

    def saved(self, statuses: Iterable[ObjectStatus]) -> None:
        """`statuses` were written to the store."""
        for status in statuses:
            self.statuses[status.key] = status
            if status.last_applied_revision:
                self.applied.add(status.key)

    def forget(self, key: str) -> None:
        """`key` is gone for good: its status was deleted."""
        self.statuses.pop(key, None)
        self.known.pop(key, None)
        self._gone_docs.pop(key, None)
        self.applied.discard(key)
        self.unsettled.discard(key)
