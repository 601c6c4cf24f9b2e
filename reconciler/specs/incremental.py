"""A new revision's snapshot patched from the previous one's, at the cost of what changed.

A full load lists every file of the tree, routes it, looks its parse up in the cache and
assembles every document again: at 10k resources that is most of a commit's latency even
when one file changed. Given the files that differ between the two revisions (a tree diff,
`GitSource.tree_changes`), `patch` drops the documents, problems and blob ids of the changed
paths from the previous snapshot and adds what those paths hold now, reusing every other
parsed document as it was. The result equals a full load of the new revision.

Only changes whose effect stays inside their own path are patched: files under
`resources/`, `workflows/` and `runbooks/`, and files the loader ignores. Anything else asks
for a full load (`patch` returns None): the settings (`reconciler.yaml`: default enforcement,
providers), anything under `policies/` (which folders hold Rego tests decides how their YAML
is read) or `data/` (merge conflicts depend on every data file's order), and any change to an
object key that is or becomes defined twice (which definition wins depends on path order).
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from reconciler.errors import ReconcilerError
from reconciler.source.revision import FileEntry, Revision, Tree
from reconciler.specs import assembly, kinds, loader, yamlio
from reconciler.specs.snapshot import Document, Snapshot

_GROUPS = {
    kinds.Role.RESOURCE: "resources",
    kinds.Role.WORKFLOW: "workflows",
    kinds.Role.RUNBOOK: "runbooks",
}
"""The roles a patch may change, and the snapshot group each one's documents go to."""


@dataclass(frozen=True, kw_only=True)
class Indexed:
    """A snapshot with the cross-file indexes its load built, to patch the next one from."""

    snapshot: Snapshot
    seen: Mapping[str, str]  # object key -> "path:line" of the definition that counts
    duplicates: frozenset[str]  # keys defined more than once
    limits: yamlio.Limits


class ListedTree(Tree, Protocol):
    @property
    def has_links(self) -> bool:
        """Whether the tree holds a symlink, whose file may change with any other path."""
        ...


class Trees(Protocol):
    """Where a `Chain` reads revisions: a Git source (`source.git.GitSource`)."""

    def tree(self, revision: Revision) -> ListedTree: ...

    def tree_changes(
        self, old: Revision, new: Revision
    ) -> Mapping[str, FileEntry | None] | None: ...


class Chain:
    """The revisions of one source loaded one after another, each patched from the one
    loaded before it when it can be, else loaded whole. `patched` and `full` count them."""

    def __init__(self, *, cache: loader.SpecCache) -> None:
        self.cache = cache
        self.patched = self.full = 0
        self._base: Indexed | None = None
        self._links = False  # the base's tree holds symlinks: no diff may patch it
        # The last diff read: (old sha, new sha, the paths that differ).
        self.last_diff: tuple[str, str, frozenset[str]] | None = None

    def load(self, source: Trees, revision: Revision) -> Snapshot:
        """The snapshot of `revision`; a full load when there is no previous revision, its
        tree holds symlinks, the diff cannot be read (e.g. the commit is gone from a mirror)
        or cannot stand for the listing, or the change is not one `patch` takes."""
        tree, base = source.tree(revision), self._base
        before = base.snapshot.revision if base is not None else None
        if base is not None and before is not None and not self._links:
            try:
                changes = source.tree_changes(before, revision)
            except ReconcilerError:
                changes = None
            if changes is not None:
                self.last_diff = (before.sha, revision.sha, frozenset(changes))
            patched = None if changes is None else patch(base, tree, changes, cache=self.cache)
            if patched is not None:
                self._base, self.patched = patched, self.patched + 1
                return patched.snapshot
        self._base = load(tree, cache=self.cache)
        self._links, self.full = tree.has_links, self.full + 1
        return self._base.snapshot


def load(
    tree: Tree,
    *,
    cache: loader.SpecCache,
    limits: yamlio.Limits | None = None,
    parse_many: loader.ParseMany | None = None,
) -> Indexed:
    """A full load of `tree` (`loader.load`), with its indexes."""
    limits = limits or yamlio.Limits()
    found, assembled = loader.assemble(tree, cache=cache, limits=limits, parse_many=parse_many)
    return Indexed(
        snapshot=found,
        seen=assembled.seen,
        duplicates=frozenset(assembled.duplicates),
        limits=limits,
    )


def patchable(path: str) -> bool:
    """Whether a change to `path` affects nothing but the documents of that path."""
    # Under `policies/` and `data/` every file the loader reads has a role outside _GROUPS,
    # whichever folders hold Rego tests; files it ignores there change nothing.
    role = kinds.route(path)
    return role is None or role in _GROUPS


def patch(
    base: Indexed,
    tree: Tree,
    changes: Mapping[str, FileEntry | None],
    *,
    cache: loader.SpecCache,
) -> Indexed | None:
    """The snapshot of `tree`, whose files differ from `base`'s by `changes` (path -> new
    entry, None where removed); None when a full load must decide (see the module)."""
    if not all(patchable(path) for path in changes):
        return None
    previous, changed, paths = base.snapshot, changes.keys(), sorted(changes)
    seen = dict(base.seen)
    cuts = {group: _cut(getattr(previous, group), paths) for group in _GROUPS.values()}
    for _, removed in cuts.values():
        for item in removed:
            if _doc(item).key in base.duplicates:
                return None
            del seen[_doc(item).key]
    assembled = assembly.Assembly(tree=tree, seen=seen, settings=previous.settings)
    for path in paths:
        entry, role = changes[path], kinds.route(path)
        if entry is not None and role is not None:
            parsed = cache.parse(tree=tree, entry=entry, role=role, limits=base.limits)
            assembled.add(entry=entry, role=role, parsed=parsed)
    if any(seen[key].rpartition(":")[0] not in changed for key in assembled.duplicates):
        return None  # a changed file redefines an object an unchanged one holds
    groups: dict[str, Any] = {
        group: _spliced(
            getattr(previous, group),
            paths=paths,
            ranges=cuts[group][0],
            added=assembled.groups.get(group, []),
        )
        for group in _GROUPS.values()
    }
    problems = [p for p in previous.problems if p.path not in changed] + assembled.problems
    snapshot = dataclasses.replace(
        previous,
        revision=tree.revision,
        problems=tuple(sorted(problems, key=assembly.problem_order)),
        files=_files(previous.files, changes),
        **groups,
    )
    duplicates = base.duplicates | assembled.duplicates
    return Indexed(snapshot=snapshot, seen=seen, duplicates=duplicates, limits=base.limits)


def _cut(items: Sequence[Any], paths: list[str]) -> tuple[list[tuple[int, int]], list[Any]]:
    """Where in path-ordered `items` the documents of each of `paths` (sorted) lie, as
    [start, end) index pairs, and those documents: found by bisection, not by a scan."""
    ranges: list[tuple[int, int]] = []
    removed: list[Any] = []
    start = 0
    for path in paths:
        lo = bisect.bisect_left(items, path, lo=start, key=_path)
        hi = bisect.bisect_right(items, path, lo=lo, key=_path)
        ranges.append((lo, hi))
        removed += items[lo:hi]
        start = hi
    return ranges, removed


def _spliced(
    items: tuple[Any, ...], *, paths: list[str], ranges: list[tuple[int, int]], added: list[Any]
) -> tuple[Any, ...]:
    """`items` with each of `paths`' range replaced by that path's `added` documents."""
    if not added and all(lo == hi for lo, hi in ranges):
        return items
    by_path = {path: list(docs) for path, docs in itertools.groupby(added, key=_path)}
    spliced: list[Any] = []
    start = 0
    for path, (lo, hi) in zip(paths, ranges, strict=True):
        spliced += items[start:lo]
        spliced += by_path.get(path, ())
        start = hi
    spliced += items[start:]
    return tuple(spliced)


def _path(item: Any) -> str:
    return _doc(item).path


def _doc(item: Any) -> Document:
    return item[0] if isinstance(item, tuple) else item  # type: ignore[no-any-return]


def _files(files: Mapping[str, str], changes: Mapping[str, FileEntry | None]) -> dict[str, str]:
    """`files` (blob id by path, in path order) with `changes` applied."""
    patched = dict(files)
    for path, entry in changes.items():
        if entry is None:
            patched.pop(path, None)
        else:
            patched[path] = entry.blob_id
    if any(path not in files for path in changes):
        return dict(sorted(patched.items()))
    return patched
