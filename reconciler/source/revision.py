"""Records every source produces: the `Revision` it read and the files of its tree.

A tree is read straight from a commit (or, for local checks, a directory), never from a
half-written checkout; each file carries its git blob id so parsed specs can be cached by
content across revisions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from reconciler.errors import Problem


@dataclass(frozen=True, kw_only=True)
class Revision:
    """One resolved commit of a source."""

    sha: str
    ref: str
    committed_at: datetime
    author: str
    message: str = ""
    signature_verified: bool | None = None  # None: verification was not asked for
    signer: str | None = None
    signing_key: str | None = None  # e.g. "gpg key <fingerprint>", "ssh ED25519 key SHA256:..."

    @property
    def short(self) -> str:
        return self.sha[:12]


@dataclass(frozen=True, kw_only=True)
class FileEntry:
    """One regular file of a tree; `path` is POSIX and relative to the tree root."""

    path: str
    blob_id: str
    size: int
    executable: bool = False  # the tree's mode says so (100755), or the file's on disk


class Tree(Protocol):
    """The files of one revision (or of a directory), read-only."""

    @property
    def revision(self) -> Revision | None:
        """The commit this tree was read from; None for a plain directory."""
        ...

    def entries(self) -> Iterator[FileEntry]:
        """Every regular file, in path order. Escaping symlinks are reported by `problems`."""
        ...

    def read(self, entry: FileEntry) -> bytes:
        """The bytes of one file."""
        ...

    def problems(self) -> list[Problem]:
        """Files skipped while listing, each with the reason (e.g. a symlink escaping the tree)."""
        ...
