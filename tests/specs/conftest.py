"""An in-memory `Tree` for loader tests: files from a dict, blob ids computed as git does."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping

from reconciler.errors import Problem
from reconciler.source.revision import FileEntry, Revision


def blob_id(data: bytes) -> str:
    """The git blob id of `data` (what `git hash-object` prints)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class MemoryTree:
    """Files held in memory. `sizes` overrides listed sizes (a huge file costs no memory);
    `reads` counts the files actually read, so tests can see what the loader parsed."""

    def __init__(
        self,
        files: Mapping[str, bytes | str],
        *,
        sizes: Mapping[str, int] | None = None,
        problems: list[Problem] | None = None,
        revision: Revision | None = None,
    ) -> None:
        self.files = {p: d.encode() if isinstance(d, str) else d for p, d in files.items()}
        self.sizes = dict(sizes or {})
        self._problems = list(problems or [])
        self._revision = revision
        self.reads: list[str] = []

    @property
    def revision(self) -> Revision | None:
        return self._revision

    def entries(self) -> Iterator[FileEntry]:
        for path in sorted(self.files):
            data = self.files[path]
            size = self.sizes.get(path, len(data))
            yield FileEntry(path=path, blob_id=blob_id(data), size=size)

    def read(self, entry: FileEntry) -> bytes:
        self.reads.append(entry.path)
        return self.files[entry.path]

    def problems(self) -> list[Problem]:
        return list(self._problems)
