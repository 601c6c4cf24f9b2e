"""Noticing at once when a ref of a local repository moves, so a commit is reconciled in seconds.

The one adapter around watchfiles. Git changes a ref by writing `<ref>.lock` and renaming
it over the ref (or by rewriting `packed-refs`, or `HEAD`), so the git folder is watched
for those files only and each burst of events is reduced to one question: did any ref
*value* change? Only then does the iterator yield, so `git gc` packing refs or a fetch that
brought nothing stays silent. Where inotify cannot be used (watch limit reached, some
network or container file systems) the ref values are polled instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import watchfiles

log = logging.getLogger(__name__)

RefValues = dict[str, str]
_DEBOUNCE_MS = 50
_STEP_MS = 1  # yield 1 ms after the last change: a commit is a burst of ref writes


def git_dir(repo_path: Path) -> Path:
    """The git folder of a repository: `.git`, where a `.git` file points, or the bare repo."""
    dot_git = Path(repo_path) / ".git"
    if dot_git.is_dir():
        return dot_git
    if dot_git.is_file():
        pointer = dot_git.read_text().strip().removeprefix("gitdir:").strip()
        return (Path(repo_path) / pointer).resolve()
    return Path(repo_path)


def read_refs(folder: Path) -> RefValues:
    """Every ref of the git folder with its value; loose refs win over `packed-refs`."""
    values: RefValues = {}
    with contextlib.suppress(OSError):
        for line in (folder / "packed-refs").read_text().splitlines():
            sha, _, name = line.partition(" ")
            if name and not line.startswith(("#", "^")):
                values[name] = sha
    refs = folder / "refs"
    for path in refs.rglob("*") if refs.is_dir() else ():
        if path.suffix != ".lock":
            with contextlib.suppress(OSError):  # a folder, or a ref deleted meanwhile
                values[path.relative_to(folder).as_posix()] = path.read_text().strip()
    with contextlib.suppress(OSError):
        values["HEAD"] = (folder / "HEAD").read_text().strip()
    return values


def _is_ref_file(folder: Path, changed: str) -> bool:
    try:
        relative = Path(changed).relative_to(folder).as_posix()
    except ValueError:
        return False
    if relative.endswith(".lock"):
        return False
    return relative in ("HEAD", "packed-refs") or relative.startswith("refs/")


async def watch_refs(
    repo_path: Path, *, stop: asyncio.Event, poll_interval: float = 5.0, force_polling: bool = False
) -> AsyncIterator[None]:
    """Yield once each time one or more refs of `repo_path` change, until `stop` is set."""
    folder = git_dir(repo_path).resolve()
    last = await asyncio.to_thread(read_refs, folder)
    if not force_polling:
        try:
            async for values in _watch_events(folder, stop=stop, last=last):
                last = values
                yield
            return
        except OSError as exc:  # inotify unavailable or out of watches
            log.warning(
                "cannot watch %s (%s); polling its refs every %ss", folder, exc, poll_interval
            )
    async for _ in _poll(folder, stop=stop, last=last, interval=poll_interval):
        yield


async def _watch_events(
    folder: Path, *, stop: asyncio.Event, last: RefValues
) -> AsyncIterator[RefValues]:
    async for _ in watchfiles.awatch(
        folder,
        watch_filter=lambda _change, changed: _is_ref_file(folder, changed),
        debounce=_DEBOUNCE_MS,
        step=_STEP_MS,
        stop_event=stop,
        force_polling=False,
    ):
        values = await asyncio.to_thread(read_refs, folder)
        if values != last:
            last = values
            yield values


async def _poll(
    folder: Path, *, stop: asyncio.Event, last: RefValues, interval: float
) -> AsyncIterator[RefValues]:
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
        if stop.is_set():
            return
        values = await asyncio.to_thread(read_refs, folder)
        if values != last:
            last = values
            yield values
