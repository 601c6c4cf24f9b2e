"""Work split over forked processes, for CPU-bound Python that holds the GIL (YAML parsing,
regorus evaluation), where threads give nothing.

`fork_map` cuts the items into one share per worker, forks a process for every share but
the first (nothing is pickled on the way in: the items and whatever `work` closes over are
inherited through `fork`), does the first share itself meanwhile, and gathers the results
back in order. A worker that dies or cannot send its results has its share done by the
caller instead. With one worker, fewer than two items, or without `fork`, everything runs
in the calling process. Only a single-threaded caller may fork safely (a CLI verb, or a
process forked for the purpose); never the daemon's threads.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
from collections.abc import Callable, Sequence
from multiprocessing import reduction
from multiprocessing.connection import Connection
from types import MappingProxyType
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")
log = logging.getLogger(__name__)


def _read_only(mapping: dict[str, Any]) -> MappingProxyType[str, Any]:
    return MappingProxyType(mapping)


# Read-only mappings (a document's labels) cross the pipe as plain dicts.
reduction.ForkingPickler.register(MappingProxyType, lambda m: (_read_only, (dict(m),)))


def fork_map(
    items: Sequence[T],
    work: Callable[[Sequence[T]], list[R]],
    *,
    workers: int,
    in_child: Callable[[Sequence[T]], list[R]] | None = None,
) -> list[R]:
    """`work` over `items` in `workers` processes, results in order; `in_child` is what a
    forked worker runs instead of `work` (e.g. to build what may not cross a fork)."""
    if workers < 2 or len(items) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return work(items)
    ctx = multiprocessing.get_context("fork")
    size = -(-len(items) // workers)
    shares = [items[start : start + size] for start in range(0, len(items), size)]
    running = []
    for share in shares[1:]:
        receiver, sender = ctx.Pipe(duplex=False)
        target = _child(in_child or work, share, sender)
        process = ctx.Process(target=target, daemon=True)
        process.start()
        sender.close()
        running.append((share, process, receiver))
    results = work(shares[0])
    for share, process, receiver in running:
        try:
            results.extend(receiver.recv())
        except EOFError:
            log.warning("worker process %s died; doing its share here", process.pid)
            results.extend(work(share))
        finally:
            receiver.close()
            process.join()
    return results


def _child(
    work: Callable[[Sequence[T]], list[R]], share: Sequence[T], sender: Connection
) -> Callable[[], None]:
    def run() -> None:
        with contextlib.suppress(Exception):  # the caller does the share itself instead
            sender.send(work(share))
        sender.close()

    return run
