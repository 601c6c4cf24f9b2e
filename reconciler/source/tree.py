"""Trees of files read from a plain directory, and the rules every tree shares.

`reconciler validate DIR` checks uncommitted work, so a working directory must look exactly
like a commit to the loader: the same paths, the same git blob ids (hashed here with
hashlib, the way git does), `.git/` left out, and symlinks treated the same way as in a
commit tree. Symlinks are resolved one path component at a time against the tree itself
(never against the host file system), so a link that leaves the tree, or the sub-path the
tree was opened at, is skipped and reported instead of read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path, PurePosixPath

from reconciler import errors
from reconciler.source import settings
from reconciler.source.revision import FileEntry, Revision

MAX_LINK_HOPS = 40  # what Linux allows before ELOOP
KEEP_READ = 1 << 20
"""Files up to this size keep the bytes the listing read (to hash them) for `read`: a file
is then read once, and what is parsed is what was hashed even if it changes meanwhile."""


class SubpathError(errors.StalledError, ValueError):
    """A sub-path escapes the repository, does not exist or is not a folder."""


class NodeKind(Enum):
    FILE = "file"
    DIR = "dir"
    LINK = "link"
    MISSING = "missing"


@dataclass(frozen=True, kw_only=True)
class Node:
    """What a path inside a tree is; `target` is the link text of a symlink."""

    kind: NodeKind
    target: str = ""


def git_blob_id(data: bytes) -> str:
    """The id git gives a blob holding `data`."""
    digest = hashlib.sha1(b"blob %d\0" % len(data), usedforsecurity=False)
    digest.update(data)
    return digest.hexdigest()


def check_subpath(subpath: str) -> str:
    """`subpath` normalized ("" for the root); `SubpathError` when it leaves the repository."""
    try:
        return settings.normalize_subpath(subpath)
    except ValueError as exc:
        raise SubpathError(str(exc)) from None


def resolve_symlink(
    *, link: str, target: str, lookup: Callable[[str], Node]
) -> str | errors.Problem:
    """The file a symlink at `link` points to (tree-relative), or why it is not followed."""

    def problem(reason: str) -> errors.Problem:
        return errors.Problem(path=link, message=f"{reason} (-> {target})")

    done = link.split("/")[:-1]
    todo = list(reversed(PurePosixPath(target).parts))
    hops = 0
    while todo:
        part = todo.pop()
        if part == "/":
            return problem("symlink escapes the repository")
        if part == "..":
            if not done:
                return problem("symlink escapes the repository")
            done.pop()
            continue
        done.append(part)
        node = lookup("/".join(done))
        if node.kind is NodeKind.MISSING:
            return problem("symlink target does not exist")
        if node.kind is NodeKind.LINK:
            hops += 1
            if hops > MAX_LINK_HOPS:
                return problem("symlink loop")
            done.pop()
            todo.extend(reversed(PurePosixPath(node.target).parts))
    final = "/".join(done)
    if not final or lookup(final).kind is not NodeKind.FILE:
        return problem("symlink to a folder is not followed")
    return final


class DirectoryTree:
    """The files under a directory (optionally a sub-path of it), as a `Tree` with no revision."""

    def __init__(self, root: Path, *, subpath: str = "") -> None:
        cleaned = check_subpath(subpath)
        self._base = Path(root) / cleaned if cleaned else Path(root)
        if not self._base.is_dir():
            where = f'sub-path "{cleaned}"' if cleaned else "folder"
            state = "does not exist" if not self._base.exists() else "is not a folder"
            raise SubpathError(f"{where} {state} in {root}" if cleaned else f"{root} {state}")
        self._files: dict[str, tuple[FileEntry, str]] | None = None
        self._read: dict[str, bytes] = {}  # by real path, the files up to KEEP_READ bytes
        self._problems: list[errors.Problem] = []

    @property
    def revision(self) -> Revision | None:
        return None

    def entries(self) -> Iterator[FileEntry]:
        for entry, _ in self._listing().values():
            yield entry

    def read(self, entry: FileEntry) -> bytes:
        _, real = self._listing()[entry.path]
        kept = self._read.get(real)
        return kept if kept is not None else (self._base / real).read_bytes()

    def problems(self) -> list[errors.Problem]:
        self._listing()
        return list(self._problems)

    def _listing(self) -> dict[str, tuple[FileEntry, str]]:
        if self._files is None:
            found: dict[str, tuple[FileEntry, str]] = {}
            links: list[str] = []
            self._walk(prefix="", found=found, links=links)
            for link in links:
                self._add_link(link, found=found)
            self._files = dict(sorted(found.items()))
            self._problems.sort()
        return self._files

    def _walk(
        self, *, prefix: str, found: dict[str, tuple[FileEntry, str]], links: list[str]
    ) -> None:
        with os.scandir(self._base / prefix if prefix else self._base) as scan:
            for item in scan:
                if item.name == ".git":
                    continue
                path = f"{prefix}{item.name}"
                if item.is_symlink():
                    links.append(path)
                elif item.is_dir(follow_symlinks=False):
                    self._walk(prefix=f"{path}/", found=found, links=links)
                elif item.is_file(follow_symlinks=False):
                    self._add_file(path, real=path, found=found)

    def _add_file(self, path: str, *, real: str, found: dict[str, tuple[FileEntry, str]]) -> None:
        try:
            data = (self._base / real).read_bytes()
        except OSError as exc:
            self._problems.append(errors.Problem(path=path, message=f"cannot read: {exc.strerror}"))
            return
        executable = os.access(self._base / real, os.X_OK)
        if len(data) <= KEEP_READ:
            self._read[real] = data
        entry = FileEntry(
            path=path, blob_id=git_blob_id(data), size=len(data), executable=executable
        )
        found[path] = (entry, real)

    def _add_link(self, link: str, *, found: dict[str, tuple[FileEntry, str]]) -> None:
        target = os.readlink(self._base / link)
        resolved = resolve_symlink(link=link, target=target, lookup=self._lookup)
        if isinstance(resolved, errors.Problem):
            self._problems.append(resolved)
        elif resolved in found:
            found[link] = (
                dataclasses.replace(found[resolved][0], path=link),
                resolved,
            )
        else:
            self._add_file(link, real=resolved, found=found)

    def _lookup(self, path: str) -> Node:
        if ".git" in path.split("/"):
            return Node(kind=NodeKind.MISSING)
        try:
            mode = os.lstat(self._base / path).st_mode
        except OSError:
            return Node(kind=NodeKind.MISSING)
        if stat.S_ISLNK(mode):
            return Node(kind=NodeKind.LINK, target=os.readlink(self._base / path))
        if stat.S_ISDIR(mode):
            return Node(kind=NodeKind.DIR)
        return Node(kind=NodeKind.FILE if stat.S_ISREG(mode) else NodeKind.MISSING)
