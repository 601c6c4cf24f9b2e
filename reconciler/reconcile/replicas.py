"""Which replica runs which source: leases claimed on a heartbeat, spread by rendezvous
hashing over the live replicas.

Every daemon is one replica, named by `replica.name` (default `<hostname>-<pid>`). Its
heartbeat (`Membership.beat`, every `leaseTtl / 3`) renews its own `replica:<name>` lease,
which is how the others know it is alive, and renews the `source:<name>` leases it holds.
Each source's preferred owner is the live replica with the highest hash of (source,
replica): every replica computes the same answer from the same lease rows, so the sources
spread evenly without any coordination beyond the leases. A replica claims the sources it
is preferred for (the claim succeeds once the lease is free or expired), and releases,
between passes (or after one ttl of passes in flight), those a newly live replica is
preferred for. A replica killed with -9
stops renewing; after `leaseTtl` its leases are taken over with new fencing tokens and its
sources resume elsewhere. With one daemon (SQLite) the one replica holds every source.
The daemon hands it `leases.LeaseClock` as `clock`: on a shared store every stamp and
expiry check is the database's time, whatever this machine's clock says.
A source runner runs passes only while `fence(source)` is not None, through a store view
fenced by it (`store.leases`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from reconciler.clock import Clock
from reconciler.store.leases import REPLICA, SOURCE, Fence, Lease, Leases

log = logging.getLogger(__name__)
HAND_OVER_BEATS = 3
"""Beats a source to hand over waits for a pass in flight to end (one lease ttl)."""


def default_name() -> str:
    """`<hostname>-<pid>`: unique per process on one network."""
    return f"{socket.gethostname()}-{os.getpid()}"


def preferred(source: str, replicas: Sequence[str]) -> str | None:
    """The replica that should own `source` (rendezvous hashing); None without replicas."""

    def weight(replica: str) -> bytes:
        return hashlib.sha256(f"{source}\0{replica}".encode()).digest()

    return max(replicas, key=weight, default=None)


def cluster(leases: Sequence[Lease], *, now: datetime) -> dict[str, Any]:
    """The replicas (name, last heartbeat, live, sources owned) and each source's owner
    (None while its lease is expired), as `/readyz` and the dashboard show them."""
    owners = {
        x.name.removeprefix(SOURCE): x.holder if x.live(now) else None
        for x in leases
        if x.name.startswith(SOURCE)
    }
    members = [
        {
            "name": x.holder,
            "lastHeartbeat": x.renewed_at.isoformat(),
            "live": x.live(now),
            "sources": sorted(s for s, owner in owners.items() if owner == x.holder),
        }
        for x in leases
        if x.name.startswith(REPLICA)
    ]
    return {"replicas": members, "owners": dict(sorted(owners.items()))}


@dataclass(frozen=True, kw_only=True)
class Beat:
    """What one heartbeat changed: sources gained (with their fences) and lost."""

    gained: dict[str, Fence]
    lost: frozenset[str]


@dataclass(frozen=True, kw_only=True)
class SourceLease:
    """One source's lease as its runner sees it (`ownership.Lease`)."""

    source: str
    membership: Membership

    def fence(self) -> Fence | None:
        return self.membership.fence(self.source)

    def elsewhere(self) -> bool:
        return self.membership.elsewhere(self.source)


class Membership:
    """This replica's leases (see the module docstring); `beat` blocks on the store."""

    def __init__(
        self,
        *,
        name: str,
        ttl: timedelta,
        store: Leases,
        clock: Clock,
        sources: Sequence[str],
        busy: Callable[[str], bool] = lambda source: False,
    ) -> None:
        """`busy(source)`: whether a pass of the source is running (never released then)."""
        self.name, self.ttl, self.store, self.clock = name, ttl, store, clock
        self.sources = tuple(sources)
        self._busy = busy
        self._held: dict[str, Fence] = {}
        self._elsewhere: frozenset[str] = frozenset()
        self._deferred: dict[str, int] = {}  # sources to hand over, by beats waited
        self._lock = threading.Lock()
        self._own_token: int | None = None

    def fence(self, source: str) -> Fence | None:
        """The fence of `source`'s lease while this replica holds it."""
        with self._lock:
            return self._held.get(source)

    def elsewhere(self, source: str) -> bool:
        """Whether the last beat found `source` held by another live replica."""
        return source in self._elsewhere

    def own_fence(self) -> Fence | None:
        """The fence of this replica's own lease, once a beat has taken it."""
        token = self._own_token
        return None if token is None else Fence(name=REPLICA + self.name, token=token)

    def lease_of(self, source: str) -> SourceLease:
        """What `source`'s runner asks about its lease."""
        return SourceLease(source=source, membership=self)

    def held(self) -> list[str]:
        with self._lock:
            return sorted(self._held)

    def beat(self) -> Beat:
        """Renew, claim and hand over leases once; returns what changed."""
        now = self.clock.now()
        self._own_token = self.store.acquire(REPLICA + self.name, self.name, ttl=self.ttl, now=now)
        lost = self._renew_held()
        live = self.live_replicas()
        gained: dict[str, Fence] = {}
        for source in self.sources:
            owner = preferred(source, live)
            fence = self.fence(source)
            if fence is None and owner == self.name:
                token = self.store.acquire(SOURCE + source, self.name, ttl=self.ttl, now=now)
                if token is not None:
                    gained[source] = Fence(name=SOURCE + source, token=token)
            elif fence is not None and owner != self.name and self._may_hand_over(source):
                self._hand_over(source, fence)
                lost.add(source)
        with self._lock:
            self._held.update(gained)
        self._elsewhere = frozenset(
            x.name.removeprefix(SOURCE)
            for x in self.store.holders(prefix=SOURCE)
            if x.holder != self.name and x.live(now)
        )
        return Beat(gained=gained, lost=frozenset(lost))

    def live_replicas(self) -> list[str]:
        now = self.clock.now()
        return [x.holder for x in self.store.holders(prefix=REPLICA) if x.live(now)]

    def leases(self) -> list[Lease]:
        """Every replica and source lease, live or not."""
        return self.store.holders()

    def leave(self) -> None:
        """Release every lease this replica holds (a clean stop hands over at once)."""
        now = self.clock.now()
        with self._lock:
            held, self._held = self._held, {}
        for source, fence in held.items():
            self.store.release(fence.name, self.name, token=fence.token, now=now)
            log.info("replica %s released source %s", self.name, source)
        if self._own_token is not None:
            self.store.release(REPLICA + self.name, self.name, token=self._own_token, now=now)

    def _renew_held(self) -> set[str]:
        """Renew every held lease in one statement; the sources whose lease was lost."""
        with self._lock:
            held = dict(self._held)
        tokens = {fence.name: fence.token for fence in held.values()}
        now = self.clock.now()
        renewed = self.store.renew_all(self.name, tokens=tokens, ttl=self.ttl, now=now)
        lost = {source for source, fence in held.items() if fence.name not in renewed}
        for source in sorted(lost):
            log.warning("replica %s lost the lease of source %s", self.name, source)
        with self._lock:
            for source in lost:
                self._held.pop(source, None)
        return lost

    def _may_hand_over(self, source: str) -> bool:
        """Between passes; or, when every beat finds a pass running (a loaded replica),
        after HAND_OVER_BEATS beats anyway: the pass then stops at its next write."""
        deferred = self._deferred.get(source, 0)
        if self._busy(source) and deferred < HAND_OVER_BEATS:
            self._deferred[source] = deferred + 1
            return False
        self._deferred.pop(source, None)
        return True

    def _hand_over(self, source: str, fence: Fence) -> None:
        with self._lock:
            self._held.pop(source, None)
        self.store.release(fence.name, self.name, token=fence.token, now=self.clock.now())
        log.info("replica %s handed source %s over", self.name, source)
