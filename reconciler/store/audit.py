"""The tamper-evident audit log: what the daemon did and was told, as a hash chain.

Every event of a type in `AUDITED` that the store appends to its event feed is also
appended here, in the same write transaction (`sql.audit`), as an `AuditEntry` holding the
SHA-256 of the previous entry. An entry's hash covers every other field of it, in canonical
JSON (sorted keys, no whitespace, UTF-8), so editing, removing or reordering any entry
breaks the chain at that entry, which `walk` finds. This module is the pure part (records,
hashing, the walk, the store's role); `sql.audit` holds the table and its queries.
Retention never prunes the log (docs/audit.md).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from reconciler.events import EventType

GENESIS = "0" * 64
"""The `prev_hash` of the first entry."""

DEFAULT_ACTOR = "reconciler"
"""Who acted when the event names nobody (`data.actor`): the daemon itself."""

AUDITED = frozenset(
    {
        EventType.RESOURCE_APPLIED,
        EventType.RESOURCE_DELETED,
        EventType.RESOURCE_BLOCKED,
        EventType.DRIFT_CORRECTED,
        EventType.DECISION_TAKEN,
        EventType.DECISION_SETTLED,
        EventType.APPROVAL_ANSWERED,
        EventType.SETTINGS_CHANGED,
    }
)
"""Event types that are always audited."""

DECIDED_RUNS = frozenset({"remediation"})
"""Run kinds started by a decision: their `RunUpdated` events are audited too."""


def audited(type: str, data: dict[str, Any]) -> bool:
    """Whether an event of `type` carrying `data` belongs in the audit log."""
    if type == EventType.RUN_UPDATED:
        return data.get("kind") in DECIDED_RUNS
    return type in AUDITED


def canonical(value: Any) -> str:
    """Canonical JSON text: sorted keys, no whitespace, non-ASCII kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, kw_only=True)
class AuditEntry:
    """One link of the chain; `hash` is `digest(...)` of all the other fields."""

    seq: int
    id: str
    at: str  # ISO 8601 in UTC, exactly as hashed
    type: str
    subject: str
    actor: str
    data: dict[str, Any] = field(default_factory=dict)
    prev_hash: str
    hash: str

    def body(self) -> dict[str, Any]:
        """The hashed fields."""
        return {
            "seq": self.seq,
            "id": self.id,
            "at": self.at,
            "type": self.type,
            "subject": self.subject,
            "actor": self.actor,
            "data": self.data,
            "prev_hash": self.prev_hash,
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.body(), "hash": self.hash}


def digest(body: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of an entry's hashed fields."""
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


def link(
    *,
    seq: int,
    prev_hash: str,
    id: str,
    at: str,
    type: str,
    subject: str,
    data: dict[str, Any],
) -> AuditEntry:
    """The entry at position `seq` after the one whose hash is `prev_hash`."""
    plain: dict[str, Any] = json.loads(canonical(data))  # as it reads back: tuples as lists
    body: dict[str, Any] = {
        "seq": seq,
        "id": id,
        "at": at,
        "type": type,
        "subject": subject,
        "actor": str(plain.get("actor") or DEFAULT_ACTOR),
        "data": plain,
        "prev_hash": prev_hash,
    }
    return AuditEntry(**body, hash=digest(body))


class Breach(StrEnum):
    EDITED = "edited"  # its fields no longer match its hash
    REMOVED = "removed"  # a position is missing
    REORDERED = "reordered"  # it does not follow the entry before it


@dataclass(frozen=True, kw_only=True)
class Verification:
    """The result of walking the chain: intact up to `count` entries ending at `head`, or
    broken at `seq` (the first position that fails), whose entry is `id`."""

    count: int
    head_seq: int
    head: str
    breach: Breach | None = None
    seq: int | None = None
    id: str | None = None
    message: str = ""

    @property
    def intact(self) -> bool:
        return self.breach is None

    def to_json(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "count": self.count,
            "headSeq": self.head_seq,
            "head": self.head,
            "breach": self.breach.value if self.breach else None,
            "seq": self.seq,
            "id": self.id,
            "message": self.message,
        }


def walk(entries: Iterable[AuditEntry]) -> Verification:
    """Check `entries` (in stored order) link from `GENESIS` with positions 1, 2, 3...

    The chain alone cannot show that entries were cut off its end: that takes a head kept
    elsewhere (an anchor, `anchored`)."""
    count, prev_seq, prev_hash = 0, 0, GENESIS
    for entry in entries:
        broken = _breach(entry, expected_seq=prev_seq + 1, prev_hash=prev_hash)
        if broken is not None:
            kind, why = broken
            return Verification(
                count=count,
                head_seq=prev_seq,
                head=prev_hash,
                breach=kind,
                seq=prev_seq + 1 if kind is Breach.REMOVED else entry.seq,
                id=entry.id,
                message=why,
            )
        count, prev_seq, prev_hash = count + 1, entry.seq, entry.hash
    return Verification(count=count, head_seq=prev_seq, head=prev_hash)


def _breach(entry: AuditEntry, *, expected_seq: int, prev_hash: str) -> tuple[Breach, str] | None:
    where = f"entry {entry.seq} (id {entry.id})"
    if entry.seq > expected_seq:
        gone = (
            f"entry {expected_seq}"
            if entry.seq == expected_seq + 1
            else f"entries {expected_seq}..{entry.seq - 1}"
        )
        return Breach.REMOVED, f"{gone} removed: {where} follows entry {expected_seq - 1}"
    if entry.prev_hash != prev_hash or entry.seq != expected_seq:
        return (
            Breach.REORDERED,
            f"{where} does not follow entry {expected_seq - 1}: it links to a different entry",
        )
    if digest(entry.body()) != entry.hash:
        return Breach.EDITED, f"{where} was edited: its fields do not match its hash"
    return None


class AuditLog(Protocol):
    """The store's role for the audit log (appended to by `append_event`)."""

    def audit_entries(self, *, since: int = 0, limit: int = 1000) -> list[AuditEntry]:
        """Entries after position `since`, in chain order, at most `limit`."""
        ...

    def verify_audit(self) -> Verification:
        """Walk the whole chain in one read transaction."""
        ...
