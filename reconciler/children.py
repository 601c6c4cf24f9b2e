"""Where the daemon's child process groups are entered before they work for long.

Provider and step processes lead their own sessions, so a kill -9 of the daemon leaves them
running. Whoever starts one tells a `ChildLedger` (its process-group id and the work it does:
`run:<run id>/<step>` or `object:<source>/<key>`) right after it is spawned, before waiting
on it, and again when it has been reaped. The daemon's ledger writes to the store
(`run.orphans.StoreLedger`), so the next daemon finds the groups a dead one left behind and
waits for or kills them before it re-plans; commands run outside the daemon (the CLI) use
`NO_LEDGER`. A child killed in the instant between its spawn and its entry is not seen.
"""

from __future__ import annotations

from typing import Protocol


class ChildLedger(Protocol):
    def started(self, pgid: int, owner: str) -> None:
        """A child group now works for `owner`."""
        ...

    def ended(self, pgid: int) -> None:
        """The child group has been reaped."""
        ...


class _NoLedger:
    def started(self, pgid: int, owner: str) -> None:
        pass

    def ended(self, pgid: int) -> None:
        pass


NO_LEDGER: ChildLedger = _NoLedger()
