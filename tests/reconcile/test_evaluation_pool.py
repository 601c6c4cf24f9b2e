"""The evaluation pool: large batches evaluated by worker processes give exactly the
decisions the source's thread gives; a killed worker's chunk is redone and the worker
replaced; small passes stay in-process; the daemon leaves no worker behind."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest

from reconciler.clock import ManualClock
from reconciler.policy import parallel
from reconciler.policy.evaluate import Evaluator
from reconciler.policy.pool import EvaluationPool
from reconciler.reconcile.daemon import Daemon
from reconciler.reconcile.revisions import Loaded
from reconciler.reconcile.settings import DaemonSettings, ReconcileSettings
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore
from tests import gitrepo
from tests.reconcile.helpers import Harness

COUNT = parallel.MIN_RESOURCES + 100  # above the pool's threshold
POLICY = """\
package deploy.replicas
import rego.v1

deny contains msg if {
    n := input.resource.spec.replicas
    n > 3
    msg := sprintf("%s: %d replicas, at most 3", [input.resource.metadata.name, n])
}

warn contains msg if {
    not input.resource.metadata.labels.team
    msg := sprintf("%s has no team label", [input.resource.metadata.name])
}
"""
BINDING = """\
apiVersion: reconciler.dev/v1
kind: PolicyBinding
metadata: {name: replicas}
spec: {policy: deploy.replicas, scope: {kinds: [Deployment]}, enforcement: strict}
"""


def deployment(i: int, *, replicas: int | None = None) -> str:
    labels = {"team": f"t{i % 7}"} if i % 5 else {}
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"d{i:04d}", "namespace": f"ns{i % 3}", "labels": labels},
        "spec": {"replicas": i % 6 if replicas is None else replicas},
    }
    return json.dumps(body)


def repository(path: Path) -> Path:
    """Deployments (a kind no provider manages: evaluated outside the gate) in ten files."""
    files = {
        "reconciler.yaml": "apiVersion: reconciler.dev/v1\nkind: Settings\nmetadata: {name: t}\n",
        "policies/replicas.rego": POLICY,
        "policies/bindings.yaml": BINDING,
        "resources/extra.yaml": deployment(9999, replicas=1),
    }
    for part in range(10):
        docs = [deployment(i) for i in range(part, COUNT, 10)]
        files[f"resources/part{part}.yaml"] = "\n---\n".join(docs) + "\n"
    gitrepo.make_repo(path, files)
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return repository(tmp_path / "repo")


@pytest.fixture
def harnesses(tmp_path: Path, repo: Path) -> Iterator[list[Harness]]:
    made: list[Harness] = []
    yield made
    for h in made:
        if h.evaluations is not None:
            h.evaluations.close()
        h.store.close()
        h.pool.shutdown()


def harness(
    tmp_path: Path, repo: Path, name: str, made: list[Harness], *, workers: int = 1
) -> Harness:
    h = Harness(
        root=tmp_path,
        repo=repo,
        out=tmp_path / "out",
        clock=ManualClock(),
        store=SqliteStore(tmp_path / f"{name}.db", retention=RetentionSettings()),
        settings=ReconcileSettings(),
        pool=ThreadPoolExecutor(2),
        evaluations=EvaluationPool(workers=workers) if workers > 1 else None,
    )
    h.start()
    made.append(h)
    return h


def test_the_pool_logs_exactly_the_decisions_of_the_source_thread(
    tmp_path: Path, repo: Path, harnesses: list[Harness]
) -> None:
    alone = harness(tmp_path, repo, "alone", harnesses)
    pooled = harness(tmp_path, repo, "pooled", harnesses, workers=2)
    for h in (alone, pooled):
        h.sync("startup")
    assert pooled.evaluations is not None and pooled.evaluations.batches == 1
    logged = list(alone.store.iter_decisions_with_inputs())
    assert len(logged) == COUNT + 1 + sum(1 for i in range(COUNT) if not i % 5)
    assert all(text is not None for _, text in logged)
    assert list(pooled.store.iter_decisions_with_inputs()) == logged
    denied = {d.resource.name for d, _ in logged if d.outcome.value == "deny"}
    assert denied == {f"d{i:04d}" for i in range(COUNT) if i % 6 > 3}
    # an audit, too, goes to the pool and finds the same
    assert pooled.controller is not None and alone.controller is not None
    loaded = pooled.loader.last_good if pooled.loader else None
    assert isinstance(loaded, Loaded)
    assert pooled.controller.audit(loaded) == alone.controller.audit(loaded) == len(denied)
    assert pooled.evaluations.batches == 2


def test_a_small_pass_stays_in_process(
    tmp_path: Path, repo: Path, harnesses: list[Harness]
) -> None:
    pooled = harness(tmp_path, repo, "pooled", harnesses, workers=2)
    pooled.sync("startup")
    assert pooled.evaluations is not None and pooled.evaluations.batches == 1
    pooled.commit({"resources/extra.yaml": deployment(9999, replicas=9)})
    pooled.sync("git")
    assert pooled.evaluations.batches == 1
    [latest] = pooled.store.decisions(key="Deployment/ns0/d9999", limit=1)
    assert (latest.outcome.value, latest.messages) == ("deny", ("d9999: 9 replicas, at most 3",))


class _KillingClock(ManualClock):
    """Kills `victim` (SIGKILL) the `at`-th time the time is read: the pool reads it once
    per chunk it sends, so the worker dies with chunks of the batch still to do."""

    def __init__(self, *, victim: int, at: int) -> None:
        super().__init__()
        self.victim, self.at, self.reads = victim, at, 0

    def now(self) -> datetime:
        self.reads += 1
        if self.reads == self.at:
            os.kill(self.victim, signal.SIGKILL)
        return super().now()


def eventually(pool: EvaluationPool, *, count: int) -> list[int]:
    """The pool's worker pids once `count` workers are up (they are started in the
    background)."""
    for _ in range(1200):
        if len(pids := pool.pids()) == count:
            return pids
        time.sleep(0.05)
    raise AssertionError(f"the pool never had {count} workers: {pool.pids()}")


def test_a_killed_worker_has_its_chunk_redone_and_is_replaced(
    tmp_path: Path, repo: Path, harnesses: list[Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = harness(tmp_path, repo, "h", harnesses)
    h.sync("startup")
    loaded = h.loader.last_good if h.loader else None
    assert isinstance(loaded, Loaded)
    docs = loaded.snapshot.resources
    expected = [
        d
        for doc in docs
        for d in Evaluator(loaded.bundle, clock=ManualClock(), revision="r").evaluate(
            doc, gate=False
        )
    ]
    pool = EvaluationPool(workers=2)
    try:
        warm = pool.evaluate(loaded.bundle, docs, observed={}, revision="r", clock=ManualClock())
        assert warm.decisions == expected
        first, second = eventually(pool, count=2)
        clock = _KillingClock(victim=first, at=4)
        with caplog.at_level(logging.WARNING, logger="reconciler.policy.pool"):
            found = pool.evaluate(loaded.bundle, docs, observed={}, revision="r", clock=clock)
        assert found.decisions == expected
        assert clock.reads > 4
        now = eventually(pool, count=2)
        assert second in now and first not in now
        [warning] = [r.getMessage() for r in caplog.records]
        assert warning.startswith(f"evaluation worker {first} died (exit code -9) evaluating chunk")
        assert warning.endswith("its chunk goes to another worker, and a new worker replaces it")
    finally:
        pool.close()
    assert pool.pids() == []


def test_the_daemon_leaves_no_worker_behind(tmp_path: Path, repo: Path) -> None:
    settings = DaemonSettings.model_validate(
        {
            "dataDir": str(tmp_path / "data"),
            "sources": [{"name": "s", "path": str(repo), "ref": "main", "interval": "1h"}],
            "reconcile": {"evaluationWorkers": 2},
        }
    )
    daemon = Daemon(settings, clock=ManualClock())
    assert daemon.evaluations is not None
    pool = daemon.evaluations
    seen: list[int] = []

    async def scenario() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(daemon.run(stop))
        try:
            for _ in range(1200):
                if daemon.runners["s"].passes and pool.batches:
                    break
                await asyncio.sleep(0.05)
            seen.extend(pool.pids())
        finally:
            stop.set()
            await running

    asyncio.run(scenario())
    assert pool.batches == 1 and len(seen) == 2
    for pid in seen:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert pool.pids() == []
