"""Parse the files of a large tree on several processes (the CLI's cold load).

Parsing YAML and validating documents holds the GIL, so threads give nothing; forked
processes do. `parse_all` hands each worker a share of the (entry, role) pairs (nothing is
pickled on the way in: the tree, entries and limits are inherited through `fork`), parses
the first share itself meanwhile, and gathers the `ParsedFile`s back in order (a worker
that dies has its share parsed by the caller instead). Below
`MIN_FILES` files, with one worker, or where `fork` is unavailable, it parses in the calling
process. Only single-threaded callers (a CLI verb) may use several workers: forking a
process that runs other threads (the daemon) is not safe.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
from collections.abc import Sequence
from multiprocessing import reduction
from multiprocessing.connection import Connection
from types import MappingProxyType
from typing import Any

from reconciler.source.revision import FileEntry, Tree
from reconciler.specs import kinds, yamlio
from reconciler.specs.loader import ParsedFile, parse_file

MIN_FILES = 2000
"""Fewer files than this are parsed in the calling process: forking would cost more."""

Job = tuple[FileEntry, kinds.Role]


log = logging.getLogger(__name__)


# Parsed documents keep their labels read-only; the results cross the pipe as plain dicts.
def _read_only(mapping: dict[str, Any]) -> MappingProxyType[str, Any]:
    return MappingProxyType(mapping)


reduction.ForkingPickler.register(MappingProxyType, lambda m: (_read_only, (dict(m),)))


def parse_all(
    tree: Tree, jobs: Sequence[Job], *, limits: yamlio.Limits, workers: int
) -> list[ParsedFile]:
    """`parse_file` of every job, in order."""
    forking = "fork" in multiprocessing.get_all_start_methods()
    if workers < 2 or len(jobs) < MIN_FILES or not forking:
        return _parse(tree, jobs, limits)
    ctx = multiprocessing.get_context("fork")
    size = -(-len(jobs) // workers)
    shares = [jobs[start : start + size] for start in range(0, len(jobs), size)]
    running = []
    for share in shares[1:]:
        receiver, sender = ctx.Pipe(duplex=False)
        process = ctx.Process(target=_worker, args=(tree, share, limits, sender), daemon=True)
        process.start()
        sender.close()
        running.append((share, process, receiver))
    parsed = _parse(tree, shares[0], limits)
    for share, process, receiver in running:
        try:
            parsed.extend(receiver.recv())
        except EOFError:  # the worker died: its share is parsed here instead
            log.warning("a parsing process (%s) died; parsing its files here", process.pid)
            parsed.extend(_parse(tree, share, limits))
        finally:
            receiver.close()
            process.join()
    return parsed


def _parse(tree: Tree, jobs: Sequence[Job], limits: yamlio.Limits) -> list[ParsedFile]:
    return [parse_file(tree=tree, entry=e, role=r, limits=limits) for e, r in jobs]


def _worker(tree: Tree, jobs: Sequence[Job], limits: yamlio.Limits, sender: Connection) -> None:
    with contextlib.suppress(Exception):  # the caller parses the share itself instead
        sender.send(_parse(tree, jobs, limits))
    sender.close()
