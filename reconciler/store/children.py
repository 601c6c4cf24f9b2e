"""Child process groups the daemon started, recorded before the child does any work.

Provider and step processes lead their own sessions, so a kill -9 of the daemon leaves them
running. Each is recorded here (its host, the replica and pid of the daemon that started
it, its process-group id, and the run/step or object it works for) before it is let go,
and forgotten once it has been reaped. A daemon reads the rows its host's dead daemons left
behind (on a shared store, other hosts' groups are never its to signal, and a live
replica's are its own): those are orphans, to wait for or kill before re-planning or
resuming, and the run/step or object each names is the work they interrupted. A process
group id is unique on its host only, so rows are keyed by both. Rows written before hosts
were recorded carry an empty host and count as every host's. `sql.children` holds the
table and queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, kw_only=True)
class ChildGroup:
    """One child process group: who started it, when, and for which work."""

    pgid: int
    daemon_pid: int
    started_at: datetime
    owner: str
    """What the child works for: `run:<run id>/<step>` or `object:<kind/namespace/name>`."""
    host: str = ""
    replica: str = ""


class Children(Protocol):
    """The store's role for the daemon's child process groups."""

    def record_child(self, child: ChildGroup) -> None:
        """Remember a child group (replacing an older row for the same host and pgid)."""
        ...

    def forget_child(self, pgid: int, *, host: str = "") -> None:
        """Drop the row of a child group of `host` that has been reaped."""
        ...

    def children(
        self, *, host: str | None = None, other_than: int | None = None
    ) -> list[ChildGroup]:
        """Recorded groups, oldest first; `host` keeps that host's (and those of no
        recorded host), `other_than` leaves out this daemon's own (by pid)."""
        ...
