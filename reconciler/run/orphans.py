"""Orphans of a previous daemon: wait for them (bounded), then kill them, before re-planning.

Steps and providers run in their own sessions, so a kill -9 of the daemon leaves them
running, and a restart that re-planned at once would apply the same object a second time,
concurrently with the first. Each child group is recorded in the store before it works
(`store.children`) with its host and the replica that started it. The groups recorded on
this host by a daemon process that is not this one and not a live replica are orphans:
at start-up, and, on a store several replicas share, when a replica takes over the work
of one that died on the same host (other hosts' groups are their own daemons' to reap).
Each is given up to `wait` seconds to finish its work on its own, then its whole group
gets SIGKILL, and its row is forgotten. The owners returned name the work that was
interrupted, for the caller to mark `interrupted`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Container
from dataclasses import dataclass
from pathlib import Path

from reconciler.clock import Clock
from reconciler.store.children import ChildGroup, Children

POLL = 0.05
"""Seconds between checks that an orphan group is gone."""


def alive(pgid: int) -> bool:
    """Whether a running (not zombie) process is left in the group `pgid`."""
    try:
        os.killpg(pgid, 0)  # signal 0: checks without sending
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process holds the id: not ours to signal
    return _running_member(pgid, proc=Path("/proc"))


def _running_member(pgid: int, *, proc: Path) -> bool:
    """A zombie stays in its group until its parent reaps it (and a container's pid 1 may
    never do so), so on Linux look past zombies; elsewhere trust `killpg`."""
    if not proc.is_dir():
        return True
    for stat in proc.glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # after "(comm)": state, ppid, pgrp
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


async def _gone(pgid: int) -> None:
    while alive(pgid):
        await asyncio.sleep(POLL)


async def settle(child: ChildGroup, *, wait: float) -> bool:
    """Wait up to `wait` seconds for the group to finish; SIGKILL what is left.
    True when it had to be killed."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(_gone(child.pgid), wait)
    if not alive(child.pgid):
        return False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pgid, signal.SIGKILL)
    await _gone(child.pgid)
    return True


@dataclass(frozen=True)
class Reaped:
    child: ChildGroup
    killed: bool
    """True: still running after the wait, so its group was killed; False: it finished."""


async def reap(
    store: Children,
    *,
    own_pid: int,
    wait: float,
    host: str = "",
    live: Callable[[], Container[str]] = frozenset,
) -> list[Reaped]:
    """Settle every group a dead daemon left behind on `host` (not this process's, nor
    those of the replicas `live()` names), forget them, and say how each ended."""
    found = await asyncio.to_thread(store.children, host=host, other_than=own_pid)
    # Asked after the rows are read: a replica's lease is written before its first group,
    # so a group read here belongs to a replica that `live()` already sees.
    alive_now = await asyncio.to_thread(live)
    orphans = [child for child in found if child.replica not in alive_now]
    killed = await asyncio.gather(*(settle(child, wait=wait) for child in orphans))
    for child in orphans:
        await asyncio.to_thread(store.forget_child, child.pgid, host=child.host)
    return [Reaped(child, k) for child, k in zip(orphans, killed, strict=True)]


class StoreLedger:
    """The daemon's `children.ChildLedger`: each group is a row of the store while it runs."""

    def __init__(
        self,
        store: Children,
        *,
        clock: Clock,
        pid: int | None = None,
        host: str = "",
        replica: str = "",
    ) -> None:
        self._store, self._clock, self._host, self._replica = store, clock, host, replica
        self._pid = os.getpid() if pid is None else pid

    def started(self, pgid: int, owner: str) -> None:
        child = ChildGroup(
            pgid=pgid,
            daemon_pid=self._pid,
            started_at=self._clock.now(),
            owner=owner,
            host=self._host,
            replica=self._replica,
        )
        self._store.record_child(child)

    def ended(self, pgid: int) -> None:
        self._store.forget_child(pgid, host=self._host)
