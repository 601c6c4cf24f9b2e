"""Actions on a run asked of the replica that does not run it, with two replicas in one
process on one real PostgreSQL store, each with its own connection, leases, run claims and
workflow engine, beating as the daemon's heartbeat does: a pause, an answer and a resume
asked of the other replica take effect on the holder at its next beat, and the paused run
resumes and finishes; a cancel asked there cancels the run on the holder; a run nobody has
claimed yet is cancelled in the store at once and never started, and a pause of one is
applied by its claimer before any step launches; a cancel forwarded to a holder that died
before taking it is honoured by the next claimer, which never starts the run again; an
answer queued by an earlier version is taken; an action that arrives after its run
finished is dropped with a log line."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from reconciler.clock import ManualClock
from reconciler.reconcile import replicas, runactions, runclaims
from reconciler.reconcile.replicas import Membership
from reconciler.reconcile.runclaims import RunClaims, Steered
from reconciler.run import plans
from reconciler.run.engine import Engine
from reconciler.runstate import RunRecord, RunStatus, StepStatus
from reconciler.store import queue
from reconciler.store.postgres import PostgresStore
from reconciler.store.retention import RetentionSettings
from tests.postgres import Server
from tests.run.helpers import statuses, until, workflow

TTL = timedelta(seconds=15)
SOURCE = "a"
SPEC = workflow(
    [
        {"name": "ok", "kind": "approval", "approval": {"message": "ship?"}},
        {"name": "done", "command": ["true"], "dependsOn": ["ok"]},
    ],
    name="ship",
)
ANSWER = {"step": "ok", "approver": "oncall", "approved": True, "comment": "", "role": None}


@dataclass
class Replica:
    """One replica: its store connection, leases, claims and engine."""

    name: str
    store: PostgresStore
    membership: Membership
    claims: RunClaims
    engine: Engine
    following: set[asyncio.Task[None]] = field(default_factory=set)
    ended: list[RunRecord] = field(default_factory=list)

    async def beat(self) -> list[str]:
        """One heartbeat as the daemon's (`Daemon._beat`): the leases, the actions other
        replicas forwarded for the runs live here, then the queued runs to claim; the
        runs started."""
        await asyncio.to_thread(self.membership.beat)
        await runactions.take_live(self.store, self.engine)
        started = await runclaims.start_claimed(
            self.claims, self.engine, store=self.store, ended=self._ended
        )
        for run_id in started:  # as `Automation._finished` does once a run ends
            task = asyncio.ensure_future(self._finished(run_id))
            self.following.add(task)
            task.add_done_callback(self.following.discard)
        return started

    async def _finished(self, run_id: str) -> None:
        run = await self.engine.wait(run_id)
        await asyncio.to_thread(self.claims.finish, run_id)
        await runactions.drop_late(self.store, run)

    async def _ended(self, run: RunRecord) -> None:  # as `Automation.ended` is handed
        self.ended.append(run)

    def steer(self, run_id: str, action: str) -> Steered | None:
        """A cancel, pause or resume asked of this replica for a run not live here."""
        return runclaims.steer(self.store, self.claims, run_id=run_id, action=action)


@pytest.fixture
def url(postgres: Server) -> str:
    return postgres.url(postgres.database())


@pytest.fixture
def stores(url: str) -> Iterator[list[PostgresStore]]:
    opened: list[PostgresStore] = []
    yield opened
    for store in opened:
        store.close()


@contextlib.asynccontextmanager
async def _pair(url: str, stores: list[PostgresStore]) -> AsyncIterator[tuple[Replica, Replica]]:
    """Two live replicas, settled: (the owner of the source, the other)."""
    clock = ManualClock()
    pair = []
    for name in ("one", "two"):
        store = PostgresStore(url, retention=RetentionSettings())
        stores.append(store)
        membership = Membership(name=name, ttl=TTL, store=store, clock=clock, sources=[SOURCE])
        claims = RunClaims(
            name=name,
            store=store,
            clock=clock,
            own_fence=membership.own_fence,
            owned=membership.held,
        )
        engine = Engine(store=store.fenced(claims.fence), clock=clock)
        pair.append(Replica(name, store, membership, claims, engine))
    try:
        for _ in range(2):  # the first beats register the replicas, the next ones settle
            for replica in pair:
                assert await replica.beat() == []
        owner = replicas.preferred(SOURCE, ["one", "two"])
        first, second = pair if pair[0].name == owner else pair[::-1]
        assert first.membership.held() == [SOURCE] and second.membership.held() == []
        yield first, second
    finally:
        for replica in pair:
            await replica.engine.close()
            await asyncio.gather(*replica.following, return_exceptions=True)


async def _queued(replica: Replica) -> RunRecord:
    """A run of `SPEC` queued for the source's owner by `replica`, as the API starts one."""
    run = await replica.engine.prepare(SPEC, trigger="api")
    await asyncio.to_thread(replica.claims.queue, run, target=SOURCE)
    return run


async def _ended(replica: Replica, run_id: str) -> RunRecord:
    """The run once it has finished on `replica` (a test fails rather than hangs)."""
    return await asyncio.wait_for(replica.engine.wait(run_id), timeout=30)


def _stored(store: PostgresStore, run_id: str) -> RunRecord:
    found = store.get_run(run_id)
    assert found is not None
    return found


def _paused(store: PostgresStore, run_id: str) -> bool:
    meta = [s for s in _stored(store, run_id).steps if s.name == plans.META]
    return plans.from_meta(meta[-1])[1]


def _status(store: PostgresStore, run_id: str) -> tuple[RunStatus, dict[str, StepStatus]]:
    run = _stored(store, run_id)
    return run.status, statuses(run)


def test_pause_answer_and_resume_asked_of_the_other_replica_act_on_the_holder(
    url: str, stores: list[PostgresStore]
) -> None:
    async def scenario() -> None:
        async with _pair(url, stores) as (owner, other):
            run = await _queued(other)
            assert await other.beat() == []  # not its source
            assert await owner.beat() == [run.id]
            waiting = (RunStatus.WAITING, {"ok": StepStatus.WAITING})
            await until(lambda: _status(owner.store, run.id) == waiting)
            assert other.steer(run.id, "pause") == Steered(forwarded_to=owner.name)
            await other.beat()  # nothing for a run it does not run
            assert not _paused(owner.store, run.id)  # the holder acts on its heartbeat
            await owner.beat()
            assert _paused(owner.store, run.id)
            forward = runclaims.forward(
                other.store, other.claims, run_id=run.id, action="answer", given=ANSWER
            )
            assert forward == owner.name
            await owner.beat()
            await until(lambda: _status(owner.store, run.id)[1] == {"ok": StepStatus.SUCCEEDED})
            await asyncio.sleep(0.2)  # paused: "done" is not launched
            assert _status(owner.store, run.id)[1] == {"ok": StepStatus.SUCCEEDED}
            assert other.steer(run.id, "resume") == Steered(forwarded_to=owner.name)
            await owner.beat()
            finished = await _ended(owner, run.id)
            assert (finished.status, statuses(finished)) == (
                RunStatus.SUCCEEDED,
                {"ok": StepStatus.SUCCEEDED, "done": StepStatus.SUCCEEDED},
            )
            await until(lambda: owner.store.queued_runs() == [])
            with pytest.raises(runactions.RunFinished):
                other.steer(run.id, "cancel")

    asyncio.run(scenario())


def test_a_cancel_asked_of_the_other_replica_cancels_the_run_on_the_holder(
    url: str, stores: list[PostgresStore]
) -> None:
    async def scenario() -> None:
        async with _pair(url, stores) as (owner, other):
            run = await _queued(owner)
            assert await owner.beat() == [run.id]
            waiting = (RunStatus.WAITING, {"ok": StepStatus.WAITING})
            await until(lambda: _status(owner.store, run.id) == waiting)
            assert other.steer(run.id, "cancel") == Steered(forwarded_to=owner.name)
            assert _status(other.store, run.id)[0] is RunStatus.WAITING
            await owner.beat()
            cancelled = await _ended(owner, run.id)
            assert cancelled.status is RunStatus.CANCELLED
            assert "done" not in statuses(cancelled)
            await until(lambda: owner.store.queued_runs() == [])
            assert owner.store.take(queue.RUN_ACTION, targets=[run.id]) == []

    asyncio.run(scenario())


def test_a_run_nobody_claimed_is_cancelled_at_once_and_paused_before_its_first_step(
    url: str, stores: list[PostgresStore]
) -> None:
    async def scenario() -> None:
        async with _pair(url, stores) as (owner, other):
            doomed = await _queued(other)
            steered = other.steer(doomed.id, "cancel")
            assert steered == Steered(forwarded_to=None, cancelled=_stored(other.store, doomed.id))
            assert _status(other.store, doomed.id) == (RunStatus.CANCELLED, {})
            assert other.store.queued_runs() == []
            assert await owner.beat() == []  # nothing left to start
            held = await _queued(other)
            assert other.steer(held.id, "pause") == Steered(forwarded_to=f"source:{SOURCE}")
            assert await owner.beat() == [held.id]  # paused before any step launched
            assert _paused(owner.store, held.id)
            await asyncio.sleep(0.2)
            assert _status(owner.store, held.id)[1] == {}
            assert other.steer(held.id, "resume") == Steered(forwarded_to=owner.name)
            await owner.beat()
            waiting = (RunStatus.WAITING, {"ok": StepStatus.WAITING})
            await until(lambda: _status(owner.store, held.id) == waiting)
            # An answer as an earlier version forwarded it: its own kind, no `action`.
            other.store.enqueue(queue.ANSWER, held.id, payload=ANSWER, at=other.claims.clock.now())
            await owner.beat()
            finished = await _ended(owner, held.id)
            assert finished.status is RunStatus.SUCCEEDED

    asyncio.run(scenario())


def test_a_cancel_forwarded_to_a_holder_that_died_is_honoured_by_the_next_claimer(
    url: str, stores: list[PostgresStore], caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with _pair(url, stores) as (dead, heir):
            run = await _queued(heir)
            assert await dead.beat() == [run.id]
            waiting = (RunStatus.WAITING, {"ok": StepStatus.WAITING})
            await until(lambda: _status(dead.store, run.id) == waiting)
            await dead.engine.close()  # killed: it beats no more, its claim stays
            assert heir.steer(run.id, "cancel") == Steered(forwarded_to=dead.name)
            clock = heir.claims.clock
            assert isinstance(clock, ManualClock)
            started: list[str] = []
            for _ in range(4):  # the heir beats on; the dead one's leases expire after the ttl
                clock.advance(TTL.total_seconds() / 3 + 0.1)
                started += await heir.beat()
            assert heir.membership.held() == [SOURCE]
            assert started == []  # cancelled before it could start again
            cancelled = _stored(heir.store, run.id)
            assert cancelled.status is RunStatus.CANCELLED
            assert heir.ended == [cancelled]  # its outcome published once, by the heir
            assert "done" not in statuses(cancelled)
            assert heir.store.queued_runs() == []
            assert heir.store.take(queue.RUN_ACTION, targets=[run.id]) == []
            # An action that arrives once the run has finished is dropped, and said so.
            heir.store.enqueue(
                queue.RUN_ACTION, run.id, payload=runactions.payload("pause"), at=clock.now()
            )
            with caplog.at_level(logging.WARNING, logger=runactions.__name__):
                await runactions.drop_late(heir.store, cancelled)
            said = caplog.records  # earlier records stay when another test set INFO
            assert [r.getMessage() for r in said if r.levelno >= logging.WARNING] == [
                f"forwarded pause of run {run.id} came after it finished (cancelled): dropped"
            ]
            assert heir.store.take(queue.RUN_ACTION, targets=[run.id]) == []

    asyncio.run(scenario())
