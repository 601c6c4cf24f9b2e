"""Child process groups the daemon started, recorded before the child does any work.

Provider and step processes lead their own sessions, so a kill -9 of the daemon leaves them
running. Each is recorded here (its process-group id, the daemon's pid, and the run/step or
object it works for) before it is let go, and forgotten once it has been reaped. At start-up
the daemon reads the rows a previous daemon left behind: those are its orphans, to wait for
or kill before re-planning, and the run/step or object each names is the work they
interrupted. `sql.children` holds the table and queries.
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


class Children(Protocol):
    """The store's role for the daemon's child process groups."""

    def record_child(self, child: ChildGroup) -> None:
        """Remember a child group (replacing an older row for the same pgid)."""
        ...

    def forget_child(self, pgid: int) -> None:
        """Drop the row of a child group that has been reaped."""
        ...

    def children(self, *, other_than: int | None = None) -> list[ChildGroup]:
        """Recorded groups, oldest first; `other_than` leaves out this daemon's own."""
        ...
