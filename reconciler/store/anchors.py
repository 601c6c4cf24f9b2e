"""Anchors: the audit chain's head kept outside the database, as commits in a Git repository.

Whoever can write the database can recompute the whole chain after changing it; a head
(position and hash) written somewhere else beforehand shows that. `anchor` verifies the
chain and, when it is intact and has moved on, commits its head as `audit-head.json` on
`refs/reconciler/audit-anchors` of a configured repository (the daemon does it every
`audit.anchor.interval` and when it stops). `check` then holds the chain against every
anchor: the anchored entry must still be there with the anchored hash, so entries cut off
the end or a recomputed chain are found. Git operations go through `source.git`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from reconciler.source import git
from reconciler.store import audit, codec, interfaces

REF = "refs/reconciler/audit-anchors"
FILE = "audit-head.json"


@dataclass(frozen=True, kw_only=True)
class Anchor:
    seq: int
    hash: str
    at: str
    commit: str = ""

    def describe(self) -> str:
        return f"anchor {self.commit[:12]} ({self.at}) of entry {self.seq}"


def read(repository: Path) -> list[Anchor]:
    """The anchors on `REF`, oldest first; `StoreError` naming a commit that holds none."""
    found = []
    for commit, data in git.file_history(repository, ref=REF, name=FILE):
        try:
            fields = json.loads(data or b"")
            found.append(
                Anchor(seq=int(fields["seq"]), hash=fields["hash"], at=fields["at"], commit=commit)
            )
        except (ValueError, KeyError, TypeError):
            raise interfaces.StoreError(
                f"{repository}: anchor commit {commit[:12]} on {REF}: {FILE} is missing or is "
                "not a chain head"
            ) from None
    return found


def anchor(log: audit.AuditLog, repository: Path, *, at: datetime) -> Anchor | None:
    """Commit the chain's head unless the newest anchor holds it already (None then, and
    for an empty chain); a broken chain is never anchored (`StoreError`)."""
    verified = log.verify_audit()
    if not verified.intact:
        raise interfaces.StoreError(f"audit log not anchored: {verified.message}")
    anchors = read(repository)
    if verified.count == 0 or (anchors and anchors[-1].seq == verified.head_seq):
        return None
    head = Anchor(seq=verified.head_seq, hash=verified.head, at=codec.iso(at))
    text = audit.canonical({"seq": head.seq, "hash": head.hash, "at": head.at})
    commit = git.append_commit(
        repository,
        ref=REF,
        files={FILE: text.encode("utf-8") + b"\n"},
        message=f"audit head: entry {head.seq} {head.hash}\n",
    )
    return Anchor(seq=head.seq, hash=head.hash, at=head.at, commit=commit)


def check(log: audit.AuditLog, anchors: list[Anchor], *, head_seq: int) -> str | None:
    """Why the chain (intact up to `head_seq`) no longer holds an anchor; None if all hold."""
    for kept in anchors:
        if kept.seq > head_seq:
            return (
                f"{kept.describe()}: the chain ends at entry {head_seq}: entries were cut off "
                "its end"
            )
        [entry] = log.audit_entries(since=kept.seq - 1, limit=1)
        if entry.hash != kept.hash:
            return (
                f"{kept.describe()}: entry {kept.seq} (id {entry.id}) has hash {entry.hash}, "
                f"anchored {kept.hash}: the chain was rewritten"
            )
    return None
