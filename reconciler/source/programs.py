"""Provider programs run from the revision being served, never from a working tree.

An ExecResource's repository-relative `spec.provider` names a file of the revision. Before
the daemon serves a revision it materialises each such program from the revision's tree:
the content is stored once under `<data-dir>/programs/blobs/<blob id>` (written to a
temporary name and renamed, executable when the tree's mode says so), and
`<data-dir>/programs/<revision>/<path>` links to it. The exec provider runs the programs of
the served revision from there. So checking out another branch in a watched clone, or
editing a program in place, changes nothing the daemon runs: only a served (validated,
and where configured signature-verified) commit does, and a `url:` source, which has no
working tree at all, runs its repository-relative programs too. Revisions no longer
served are pruned, and so are blobs no revision links to.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from reconciler.source.revision import Tree

BLOBS = "blobs"


def materialize(tree: Tree, paths: Iterable[str], *, into: Path, revision: str) -> Path:
    """The directory holding `paths` of `tree` as `revision` has them (made once)."""
    target = into / revision
    if target.is_dir():
        return target
    entries = {e.path: e for e in tree.entries()}
    blobs = into / BLOBS
    blobs.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=into, prefix=f".{revision[:12]}."))
    try:
        for path in sorted(set(paths)):
            clean = posixpath.normpath(path)
            entry = entries.get(clean)
            if entry is None or clean.startswith(("../", "/")) or clean == "..":
                continue  # the exec provider reports "no such program" when it is needed
            blob = blobs / (entry.blob_id + (".x" if entry.executable else ""))
            if not blob.exists():
                _write(blob, tree.read(entry), executable=entry.executable)
            placed = staging / clean
            placed.parent.mkdir(parents=True, exist_ok=True)
            os.link(blob, placed)
        os.replace(staging, target)
    except FileExistsError:  # another thread materialised it first
        shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def prune(into: Path, *, keep: Iterable[str]) -> None:
    """Remove revision directories not in `keep`, then blobs no directory links to."""
    if not into.is_dir():
        return
    kept = set(keep)
    for child in into.iterdir():
        if child.name != BLOBS and child.name not in kept and child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
    blobs = into / BLOBS
    if blobs.is_dir():
        for blob in blobs.iterdir():
            with contextlib.suppress(OSError):
                if blob.stat().st_nlink <= 1:
                    blob.unlink()


def _write(blob: Path, data: bytes, *, executable: bool) -> None:
    fd, temp = tempfile.mkstemp(dir=blob.parent, prefix=".blob.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            os.fchmod(handle.fileno(), 0o555 if executable else 0o444)
        os.replace(temp, blob)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
