"""Scheduled optimization runs on two replicas sharing one real PostgreSQL store, each with
its own store connection, leases and schedule over a real git repository: a due run is
queued once however many replicas find it due, waits in the queue on a replica that does
not own the source, and runs once, on the owner; it is not queued again within the
interval. A run whose claimer died in the middle is closed as failed by the next owner, not
run again."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from reconciler.clock import SystemClock
from reconciler.optimize import proposals, runner, schedule
from reconciler.reconcile import replicas
from reconciler.reconcile.replicas import Membership
from reconciler.reconcile.runclaims import RunClaims
from reconciler.runstate import RunKind, RunStatus
from reconciler.store import runqueue
from reconciler.store.leases import REPLICA
from reconciler.store.postgres import PostgresStore
from reconciler.store.retention import RetentionSettings
from tests import gitrepo
from tests.postgres import Server

TTL = timedelta(seconds=60)  # live through the test without a heartbeat
SOURCE = "shop"
SETTINGS = """\
apiVersion: reconciler.dev/v1
kind: Settings
metadata:
  name: shop
spec:
  optimization:
    interval: 1h
"""


@pytest.fixture
def stores(postgres: Server) -> Iterator[list[PostgresStore]]:
    url = postgres.url(postgres.database())
    opened = [PostgresStore(url, retention=RetentionSettings()) for _ in range(2)]
    yield opened
    for store in opened:
        store.close()


def test_a_due_scheduled_run_fires_once_across_two_replicas_on_the_owner(
    tmp_path: Path, stores: list[PostgresStore]
) -> None:
    repo = tmp_path / "repo"
    gitrepo.make_repo(repo, {"reconciler.yaml": SETTINGS})
    clock = SystemClock()
    names = ["one", "two"]
    members = [
        Membership(name=n, ttl=TTL, store=s, clock=clock, sources=[SOURCE])
        for n, s in zip(names, stores, strict=True)
    ]
    for _ in range(2):  # the first beats register the replicas, the next ones settle
        for member in members:
            member.beat()
    owner = names.index(replicas.preferred(SOURCE, names) or "")
    assert members[owner].held() == [SOURCE] and members[1 - owner].held() == []

    def loop(i: int, stop: asyncio.Event) -> asyncio.Task[None]:
        ws = proposals.Workspace(repo=repo, ref="main", store=stores[i], clock=clock)
        claims = RunClaims(
            name=names[i],
            store=stores[i],
            clock=clock,
            own_fence=members[i].own_fence,
            owned=members[i].held,
            kind=runqueue.OPTIMIZATION,
        )
        due = schedule.scheduled(
            stop, workspaces=[ws], names=[SOURCE], claims=claims, prometheus=None, tick=0.1
        )
        return asyncio.create_task(due)

    async def run(chosen: list[int], seconds: float) -> None:
        stop = asyncio.Event()
        tasks = [loop(i, stop) for i in chosen]
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.gather(*tasks)

    asyncio.run(run([1 - owner], 1.0))  # the other replica alone: it queues, never runs
    [queued] = stores[0].queued_runs(kind=runqueue.OPTIMIZATION)
    assert (queued.target, queued.claimed_by) == (SOURCE, None)
    [pending] = stores[0].list_runs(kind=RunKind.OPTIMIZATION)
    assert (pending.id, pending.status, pending.trigger) == (
        queued.run_id,
        RunStatus.PENDING,
        "schedule",
    )

    asyncio.run(run([0, 1], 3.0))  # both: the owner claims and runs it, nobody queues more
    [ran] = stores[0].list_runs(kind=RunKind.OPTIMIZATION)
    assert (ran.id, ran.status) == (queued.run_id, RunStatus.SUCCEEDED), ran.error
    assert stores[0].queued_runs() == []


def test_a_run_whose_claimer_died_in_the_middle_is_closed_failed_not_run_again(
    tmp_path: Path, stores: list[PostgresStore]
) -> None:
    repo = tmp_path / "repo"
    gitrepo.make_repo(repo, {"reconciler.yaml": SETTINGS})
    clock, store = SystemClock(), stores[0]
    ws = proposals.Workspace(repo=repo, ref="main", store=store, clock=clock)
    assert store.enqueue_once(runner.pending(ws, trigger="schedule"), target=SOURCE, at=clock.now())
    dead = store.acquire(REPLICA + "dead", "dead", ttl=TTL, now=clock.now())
    assert dead is not None
    [claimed] = store.claim_runs(
        "dead", token=dead, targets=[SOURCE], now=clock.now(), kind=runqueue.OPTIMIZATION
    )
    record = store.get_run(claimed.run_id)
    assert record is not None
    store.update_run(dataclasses.replace(record, status=RunStatus.RUNNING))  # then killed
    store.release(REPLICA + "dead", "dead", token=dead, now=clock.now())  # its lease is gone
    member = Membership(name="heir", ttl=TTL, store=store, clock=clock, sources=[SOURCE])
    member.beat()
    claims = RunClaims(
        name="heir",
        store=store,
        clock=clock,
        own_fence=member.own_fence,
        owned=member.held,
        kind=runqueue.OPTIMIZATION,
    )

    async def run() -> None:
        stop = asyncio.Event()
        due = schedule.scheduled(
            stop, workspaces=[ws], names=[SOURCE], claims=claims, prometheus=None, tick=0.1
        )
        task = asyncio.create_task(due)
        await asyncio.sleep(1.0)
        stop.set()
        await task

    asyncio.run(run())
    [closed] = store.list_runs(kind=RunKind.OPTIMIZATION)  # and none queued since: not due
    assert (closed.id, closed.status, closed.error) == (
        claimed.run_id,
        RunStatus.FAILED,
        schedule.INTERRUPTED,
    )
    assert store.queued_runs() == []
