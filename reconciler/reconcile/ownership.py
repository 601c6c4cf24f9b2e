"""Whether this replica may work on a source now, and the fence its writes carry.

A source runner asks `Ownership.take()` on its worker thread before a pass or an audit.
Unclustered (no lease given) the answer is always yes and writes are unfenced. Otherwise
the answer is the fence of the source's lease while this replica holds it (see
`replicas.Membership`), and the store view `store` checks that fence in every write
transaction, so a pass whose lease is taken over stops at its next write (`LeaseLost`).
When the fence differs from the previous work's — the first pass, or a takeover — the
reconcile runs that a killed or fenced-out holder left `running` are closed as cancelled,
under the new fence, so the new owner's pass is the only one running.
"""

from __future__ import annotations

import logging
from typing import Protocol

from reconciler.clock import Clock
from reconciler.run.runlog import RunLog
from reconciler.runstate import RunKind, RunStatus
from reconciler.store.interfaces import Store
from reconciler.store.leases import Fence, LeaseLost

log = logging.getLogger(__name__)
INTERRUPTED = "interrupted: the daemon stopped before this pass finished"
_FIRST = Fence(name="", token=-1)  # no work yet: whatever fence the first has is new


class Lease(Protocol):
    """A source's lease as this replica knows it (`replicas.SourceLease`)."""

    def fence(self) -> Fence | None:
        """The lease's fence while this replica holds it."""
        ...

    def elsewhere(self) -> bool:
        """Whether another live replica holds it."""
        ...


class Ownership:
    """One source's ownership on this replica (see the module docstring)."""

    def __init__(self, source: str, *, store: Store, clock: Clock, lease: Lease | None):
        self.source, self.clock, self._lease = source, clock, lease
        self._fence: Fence | None = None
        self._last: Fence | None = _FIRST
        self.store = store.fenced(lambda: self._fence)
        """The store every write of the source's owned state goes through."""

    @property
    def owned(self) -> bool:
        """Whether this replica holds the source's lease (always, unclustered)."""
        return self._lease is None or self._lease.fence() is not None

    @property
    def elsewhere(self) -> bool:
        """Whether another live replica owns the source (never, unclustered)."""
        return self._lease is not None and self._lease.elsewhere()

    def take(self) -> bool:
        """Fence the work about to start (worker thread); False when the source is owned
        elsewhere, or was taken over while closing the previous holder's runs."""
        fence = self._lease.fence() if self._lease is not None else None
        if self._lease is not None and fence is None:
            return False
        self._fence = fence
        if fence != self._last:
            try:
                self._close_interrupted_runs()
            except LeaseLost as exc:
                log.warning("source %s: %s", self.source, exc)
                return False
            self._last = fence
        return True

    def _close_interrupted_runs(self) -> None:
        now, runs = self.clock.now(), RunLog(self.store)
        for run in self.store.list_runs(kind=RunKind.RECONCILE, status=RunStatus.RUNNING):
            if run.name == self.source:
                runs.finish(run, status=RunStatus.CANCELLED, at=now, error=INTERRUPTED)
                log.warning("reconcile run %s of %s was interrupted", run.id, run.name)
