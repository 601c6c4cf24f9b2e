"""Parse the files of a large tree on several processes (the CLI's cold load).

`parse_all` hands the (entry, role) pairs to `forking.fork_map` when there are at least
`MIN_FILES` of them, and parses them in the calling process otherwise; the `ParsedFile`s
come back in order either way. Only single-threaded callers (a CLI verb) may use several
workers: forking a process that runs other threads (the daemon) is not safe.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.forking import fork_map
from reconciler.source.revision import FileEntry, Tree
from reconciler.specs import kinds, yamlio
from reconciler.specs.loader import ParsedFile, parse_file

MIN_FILES = 2000
"""Fewer files than this are parsed in the calling process: forking would cost more."""

Job = tuple[FileEntry, kinds.Role]


def parse_all(
    tree: Tree, jobs: Sequence[Job], *, limits: yamlio.Limits, workers: int
) -> list[ParsedFile]:
    """`parse_file` of every job, in order."""
    return fork_map(
        jobs,
        lambda share: _parse(tree, share, limits),
        workers=workers if len(jobs) >= MIN_FILES else 1,
    )


def _parse(tree: Tree, jobs: Sequence[Job], limits: yamlio.Limits) -> list[ParsedFile]:
    return [parse_file(tree=tree, entry=e, role=r, limits=limits) for e, r in jobs]
