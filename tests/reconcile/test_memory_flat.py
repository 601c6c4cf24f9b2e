"""Memory stays flat over many revisions, the way the daemon meets them.

A source's worker thread loads each new revision of a real repository (the bundled
template: its policies, Gatekeeper templates and resources), compiles it and evaluates
every resource with real regorus; the revision is handed to another thread, which keeps
only the newest, so every older revision and its engines are dropped on a thread that did
not build them. After a warm-up, 200 revisions later the process' resident memory
(`VmRSS` from /proc/self/status) may not have grown by more than a bound well under what
one kept engine per revision would cost."""

from __future__ import annotations

import queue
import shutil
import threading
from pathlib import Path

import pytest

from reconciler import assets
from reconciler.clock import SystemClock
from reconciler.policy.evaluate import Evaluator
from reconciler.reconcile.revisions import Loaded, SourceLoader
from reconciler.source.settings import SourceSettings
from tests.gitrepo import commit, git

WARM_UP = 30
REVISIONS = 200
MiB = 1024 * 1024
BOUND = 16 * MiB


def rss() -> int:
    """This process' resident set size in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS line in /proc/self/status")


def _repo(root: Path, count: int) -> list[str]:
    """A repository with `count` commits, each changing a data document."""
    shutil.copytree(assets.template_dir(), root)
    git(root.parent, "init", "--quiet", "--initial-branch=main", root.name)
    shas = [commit(root, {"data/revision.yaml": "revision: 0\n"}, message="r0")]
    for n in range(1, count):
        shas.append(commit(root, {"data/revision.yaml": f"revision: {n}\n"}, message=f"r{n}"))
    return shas


def _worker(repo: Path, shas: list[str], out: queue.Queue[Loaded | int]) -> None:
    source = SourceLoader(SourceSettings(path=repo))
    evaluator: Evaluator | None = None
    for sha in shas:
        git(repo, "update-ref", "refs/heads/main", sha)
        loaded = source.refresh(fetch=False)
        assert isinstance(loaded, Loaded), loaded
        evaluator = Evaluator(loaded.bundle, clock=SystemClock(), revision=sha)
        assert evaluator.evaluate_all(loaded.snapshot)  # the template's policies decide
        source.last_good = None  # the handed-over revision is the only reference left
        out.put(loaded)
    del evaluator
    out.put(len(shas))


@pytest.mark.slow
def test_memory_stays_flat_over_many_revisions(tmp_path: Path) -> None:
    shas = _repo(tmp_path / "repo", WARM_UP + REVISIONS)
    handed: queue.Queue[Loaded | int] = queue.Queue()
    worker = threading.Thread(target=_worker, args=(tmp_path / "repo", shas, handed))
    worker.start()
    newest: Loaded | None = None
    before = 0
    for n in range(WARM_UP + REVISIONS):
        got = handed.get(timeout=600)
        assert isinstance(got, Loaded)
        newest = got  # the previous revision is dropped here, off the worker's thread
        if n == WARM_UP:
            before = rss()
    assert handed.get(timeout=600) == WARM_UP + REVISIONS
    grown = rss() - before
    worker.join()
    assert newest is not None and newest.revision.sha == shas[-1]
    assert grown < BOUND, f"resident memory grew by {grown / MiB:.1f} MiB"
