"""watch_refs on real repositories: a commit made after the watcher starts wakes it up."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from reconciler.source import watch
from tests import gitrepo

WAIT = 10.0  # generous upper bound for a wake-up; tests never assert how fast it came


async def _next_wakeup(repo: Path, *, force_polling: bool, change: list[list[str]]) -> int:
    """Start watching, run each git command of `change` in turn, count wake-ups until quiet."""
    stop = asyncio.Event()
    woke = asyncio.Event()
    count = 0

    async def consume() -> None:
        nonlocal count
        async for _ in watch.watch_refs(
            repo, stop=stop, poll_interval=0.1, force_polling=force_polling
        ):
            count += 1
            woke.set()

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.3)  # let the watcher take its first look at the refs
    for args in change:
        await asyncio.to_thread(gitrepo.git, repo, *args)
    await asyncio.wait_for(woke.wait(), timeout=WAIT)
    stop.set()
    await asyncio.wait_for(task, timeout=WAIT)
    return count


@pytest.mark.parametrize("force_polling", [False, True], ids=["inotify", "polling"])
def test_a_new_commit_wakes_the_watcher(
    tmp_path: Path, force_polling: bool, caplog: pytest.LogCaptureFixture
) -> None:
    gitrepo.make_repo(tmp_path, {"a.yaml": "a: 1\n"})
    (tmp_path / "a.yaml").write_text("a: 2\n")
    gitrepo.git(tmp_path, "add", "a.yaml")

    count = asyncio.run(
        _next_wakeup(tmp_path, force_polling=force_polling, change=[["commit", "-q", "-m", "two"]])
    )

    assert count >= 1
    assert [r.message for r in caplog.records if r.name == watch.__name__] == []


@pytest.mark.parametrize("force_polling", [False, True], ids=["inotify", "polling"])
def test_bare_repository_tag_and_packed_refs(tmp_path: Path, force_polling: bool) -> None:
    gitrepo.make_repo(tmp_path / "work", {"a.yaml": "a: 1\n"})
    gitrepo.git(tmp_path, "clone", "-q", "--bare", str(tmp_path / "work"), str(tmp_path / "bare"))
    bare = tmp_path / "bare"

    count = asyncio.run(_next_wakeup(bare, force_polling=force_polling, change=[["tag", "v9"]]))

    assert count >= 1
    assert watch.read_refs(bare)["refs/tags/v9"] == gitrepo.git(bare, "rev-parse", "HEAD")


def test_stop_ends_the_iteration_without_a_change(tmp_path: Path) -> None:
    gitrepo.make_repo(tmp_path, {"a.yaml": "a: 1\n"})

    async def run(force_polling: bool) -> list[None]:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.2, stop.set)
        return [
            item
            async for item in watch.watch_refs(
                tmp_path, stop=stop, poll_interval=0.05, force_polling=force_polling
            )
        ]

    assert asyncio.run(run(False)) == []
    assert asyncio.run(run(True)) == []


def test_read_refs_prefers_loose_refs_over_packed_ones(tmp_path: Path) -> None:
    first = gitrepo.make_repo(tmp_path, {"a.yaml": "a: 1\n"})
    gitrepo.git(tmp_path, "pack-refs", "--all")
    packed = watch.read_refs(tmp_path / ".git")
    second = gitrepo.commit(tmp_path, {"a.yaml": "a: 2\n"})

    assert packed == {"refs/heads/main": first, "HEAD": "ref: refs/heads/main"}
    assert watch.read_refs(tmp_path / ".git")["refs/heads/main"] == second
    assert watch.git_dir(tmp_path) == tmp_path / ".git"


def test_packing_refs_changes_no_value_and_stays_silent(tmp_path: Path) -> None:
    gitrepo.make_repo(tmp_path, {"a.yaml": "a: 1\n"})

    async def run() -> int:
        stop = asyncio.Event()
        count = 0

        async def consume() -> None:
            nonlocal count
            async for _ in watch.watch_refs(tmp_path, stop=stop):
                count += 1

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.3)
        await asyncio.to_thread(gitrepo.git, tmp_path, "pack-refs", "--all")
        await asyncio.to_thread(gitrepo.git, tmp_path, "tag", "later")  # a real change after it
        while count == 0:
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, timeout=WAIT)
        return count

    assert asyncio.run(asyncio.wait_for(run(), timeout=WAIT)) == 1
