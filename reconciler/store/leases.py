"""Leases with fencing tokens: which replica owns a piece of work, and proof it still does.

Several daemons on one database split their work (a source's passes, a replica's own
liveness) through lease rows. `acquire` takes a lease that is free, expired or already the
caller's, and returns its fencing token: a number that grows each time the lease changes
hands and stays the same while one holder renews it. A holder that stalls past its ttl
(a pause, a partition, kill -9) loses the lease to the next `acquire`, which bumps the
token. The token is what makes the loss safe: every write of owned state is made through
`Store.fenced(...)`, whose transactions first check that the lease row still carries the
token the work started with, and raise `LeaseLost` otherwise — in the same transaction as
the write, so a replica that lost its lease writes nothing more. Expiry is judged by the
`now` each caller passes, and every caller takes it from one time base: `LeaseClock`, the
database's clock on a shared store (`Leases.database_now`), so replicas whose own clocks
disagree still agree on which lease is live; on SQLite, one machine, the caller's clock is
the database's. Tests hand a `ManualClock` to move lease time exactly. `sql.leases` holds
the table and the guarded statements.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from reconciler.clock import Clock
from reconciler.errors import ReconcilerError

SOURCE = "source:"
"""Prefix of the lease that owns a source's passes (`source:<name>`)."""
REPLICA = "replica:"
"""Prefix of the lease a replica renews as its heartbeat (`replica:<name>`)."""


@dataclass(frozen=True, kw_only=True)
class Lease:
    name: str
    holder: str
    token: int
    acquired_at: datetime
    renewed_at: datetime
    expires_at: datetime

    def live(self, now: datetime) -> bool:
        return self.expires_at > now


@dataclass(frozen=True, kw_only=True)
class Fence:
    """A write is allowed while lease `name` still carries `token`."""

    name: str
    token: int


FenceSource = Callable[[], "Fence | None"]
"""Where a fenced store reads the fence of its next write (None: unfenced)."""


class LeaseLost(ReconcilerError, PermissionError):
    """The lease a write was fenced by has been taken over: the write was not made."""

    def __init__(self, fence: Fence, *, now_token: int | None, holder: str | None) -> None:
        self.fence = fence
        taken = "not held" if holder is None else f"held by {holder} with token {now_token}"
        super().__init__(
            f"lease {fence.name}: token {fence.token} is no longer current ({taken});"
            " the write was refused"
        )


class Leases(Protocol):
    """The store's role for leases (see the module docstring)."""

    def acquire(self, name: str, holder: str, *, ttl: timedelta, now: datetime) -> int | None:
        """Take or renew lease `name` for `holder` until `now + ttl`; its fencing token,
        or None while another holder's lease is live."""
        ...

    def renew(self, name: str, holder: str, *, token: int, ttl: timedelta, now: datetime) -> bool:
        """Extend a lease still carrying `token`; False when it was taken over."""
        ...

    def renew_all(
        self, holder: str, *, tokens: Mapping[str, int], ttl: timedelta, now: datetime
    ) -> set[str]:
        """`renew` of every lease in `tokens` (name: token) in one statement; the names
        renewed (the others were taken over)."""
        ...

    def release(self, name: str, holder: str, *, token: int, now: datetime) -> bool:
        """Give a lease up (it is free at once); False when it was not ours any more."""
        ...

    def holders(self, *, prefix: str = "") -> list[Lease]:
        """Every lease whose name starts with `prefix`, live or not, by name."""
        ...

    def database_now(self) -> datetime | None:
        """The database server's clock now, which a shared store's leases expire by; None
        where the store is on the caller's machine (SQLite), whose clock is the caller's."""
        ...


class LeaseClock:
    """The `Clock` lease stamps and expiry are taken from: the store's `database_now()`
    where it has one (every replica on a shared store then reads the same clock, whatever
    its own says), else `fallback` (SQLite; the clock a test moves). Durations stay local:
    `monotonic()` is the fallback's. A stamp is read one round trip before the statement
    that uses it, so expiry is judged that much late, never early."""

    def __init__(self, store: Leases, *, fallback: Clock) -> None:
        self.store, self.fallback = store, fallback

    def now(self) -> datetime:
        found = self.store.database_now()
        return self.fallback.now() if found is None else found

    def monotonic(self) -> float:
        return self.fallback.monotonic()
