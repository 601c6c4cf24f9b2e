"""File operations that cannot be led out of a root, even by a symlink planted mid-way.

The file provider resolves a File's path (`os.path.realpath`) and checks that it lies in an
allowed root; these functions then reach it from the root one directory at a time with
`O_NOFOLLOW` (`openat`-style, through `dir_fd`) and act on the last component relative to
its directory's descriptor. A symlink that appears between the check and the write — or
the file itself being a symlink — makes the operation fail with `Escaped` instead of
writing, changing the mode of or deleting whatever the link points to.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class Escaped(OSError):
    """A symlink on the way to the target (or the target itself) was refused."""


@contextlib.contextmanager
def parent(root: Path, target: Path, *, create: bool) -> Iterator[int]:
    """A descriptor of `target`'s directory, reached from `root` without following links."""
    if create:
        root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root, _DIR)
    try:
        for part in target.parent.relative_to(root).parts:
            fd = _step(fd, part, create=create)
        yield fd
    finally:
        os.close(fd)


def _step(fd: int, part: str, *, create: bool) -> int:
    try:
        nxt = os.open(part, _DIR, dir_fd=fd)
    except FileNotFoundError:
        if not create:
            raise
        with contextlib.suppress(FileExistsError):
            os.mkdir(part, 0o755, dir_fd=fd)
        nxt = _open_dir(part, fd)
    except OSError as exc:
        _refuse(exc, part)
        raise
    os.close(fd)
    return nxt


def _open_dir(part: str, fd: int) -> int:
    try:
        return os.open(part, _DIR, dir_fd=fd)
    except OSError as exc:
        _refuse(exc, part)
        raise


def _refuse(exc: OSError, part: str) -> None:
    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
        raise Escaped(exc.errno, f"{part} is a symlink or not a directory; not followed") from None


def read(root: Path, target: Path) -> tuple[os.stat_result, bytes | None] | None:
    """The target's stat and content (None for a directory); None when it does not exist."""
    try:
        with parent(root, target, create=False) as fd:
            info = os.stat(target.name, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISLNK(info.st_mode):
                raise Escaped(errno.ELOOP, f"{target} is a symlink; not followed")
            if not stat.S_ISREG(info.st_mode):
                return info, None
            handle = os.open(target.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            with os.fdopen(handle, "rb") as file:
                return info, file.read()
    except FileNotFoundError:
        return None


def write(root: Path, target: Path, *, data: bytes, mode: int) -> None:
    """Replace the target atomically: a temporary file beside it, renamed over it."""
    with parent(root, target, create=True) as fd:
        temp = f".{target.name}.{secrets.token_hex(6)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        handle = os.open(temp, flags, 0o600, dir_fd=fd)
        try:
            with os.fdopen(handle, "wb") as file:
                os.fchmod(file.fileno(), mode)  # before the rename: never a wrong mode
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, target.name, src_dir_fd=fd, dst_dir_fd=fd)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp, dir_fd=fd)
            raise


def make_directory(root: Path, target: Path, *, mode: int) -> None:
    with parent(root, target, create=True) as fd:
        with contextlib.suppress(FileExistsError):
            os.mkdir(target.name, 0o755, dir_fd=fd)
        handle = _open_dir(target.name, fd)
        try:
            os.fchmod(handle, mode)
        finally:
            os.close(handle)


def remove(root: Path, target: Path) -> None:
    """Remove the file, or the directory when it is empty; a symlink itself is removed."""
    try:
        with parent(root, target, create=False) as fd:
            info = os.stat(target.name, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                os.rmdir(target.name, dir_fd=fd)
            else:
                os.unlink(target.name, dir_fd=fd)
    except FileNotFoundError:
        return
