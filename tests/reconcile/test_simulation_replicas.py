"""Simulations on replicas sharing one real PostgreSQL store, each with its own store
connection, leases and simulation service over a real git repository: a simulation
submitted to a replica that does not own its source runs once, on the owner; a flood of
them to that replica leaves at most `simulations.maxQueued` waiting, the rest stored
cancelled as on one daemon (and announced), and the owner runs the ones kept; one whose
claimer died is run again by the source's new owner, not failed; a replica starting up
leaves a live replica's simulations alone and fails only what nobody can run any more; a
replica whose lease lapsed while it ran a simulation writes nothing more of it; one
restarted under its name runs what it had claimed."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from reconciler.clock import ManualClock
from reconciler.events import Bus, Event, EventType
from reconciler.reconcile import replicas
from reconciler.reconcile.replicas import Membership
from reconciler.reconcile.runclaims import RunClaims
from reconciler.reconcile.settings import DaemonSettings
from reconciler.reconcile.simulations import runs, service
from reconciler.reconcile.simulations.service import Simulator
from reconciler.runstate import RunStatus
from reconciler.store import runqueue
from reconciler.store.interfaces import SimulationRecord, SimulationStatus, Store
from reconciler.store.leases import REPLICA
from reconciler.store.postgres import PostgresStore
from reconciler.store.retention import RetentionSettings
from tests import gitrepo
from tests.postgres import Server

TTL = timedelta(seconds=15)
Open = Callable[[str], "Replica"]
SOURCE = "policies"


@dataclass
class Repo:
    settings: DaemonSettings
    base: str
    head: str


@dataclass
class Replica:
    name: str
    store: PostgresStore
    membership: Membership
    simulator: Simulator
    finished: list[str]

    def claims(self) -> RunClaims:
        """The replica's claims of queued simulations, as its service makes them."""
        return _claims(self.name, self.store, self.membership)


def _claims(name: str, store: PostgresStore, membership: Membership) -> RunClaims:
    return RunClaims(
        name=name,
        store=store,
        clock=membership.clock,
        own_fence=membership.own_fence,
        owned=membership.held,
        kind=runqueue.SIMULATION,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    path = tmp_path / "repo"
    base = gitrepo.make_repo(path, {"README.md": "policies\n"})
    head = gitrepo.commit(path, {"README.md": "policies, changed\n"})
    settings = DaemonSettings.model_validate(
        {
            "dataDir": str(tmp_path / "data"),
            "sources": [{"name": SOURCE, "path": str(path), "ref": "main", "interval": "1h"}],
        }
    )
    return Repo(settings=settings, base=base, head=head)


@pytest.fixture
def url(postgres: Server) -> str:
    return postgres.url(postgres.database())


@pytest.fixture
def open_replica(url: str, repo: Repo, tmp_path: Path) -> Iterator[Open]:
    clock = ManualClock()
    opened: list[Replica] = []

    def open_one(name: str) -> Replica:
        store = PostgresStore(url, retention=RetentionSettings())
        membership = Membership(name=name, ttl=TTL, store=store, clock=clock, sources=[SOURCE])
        bus, finished = Bus(), list[str]()

        def on_event(event: Event) -> None:
            if event.type is EventType.SIMULATION_FINISHED:
                finished.append(str(event.data["simulation"]))

        bus.subscribe(on_event)
        context = runs.Context(
            store=store,
            clock=clock,
            bus=bus,
            data_dir=tmp_path / name,
            limits=repo.settings.simulations,
            forges=repo.settings.forges,
        )
        claims = _claims(name, store, membership)
        simulator = Simulator(context, sources=repo.settings.sources, claims=claims)
        replica = Replica(
            name=name, store=store, membership=membership, simulator=simulator, finished=finished
        )
        opened.append(replica)
        return replica

    yield open_one
    for replica in opened:
        replica.simulator.close(wait=30)  # its workers write to the store until they end
        replica.store.close()


def _pair(open_one: Open) -> tuple[Replica, Replica]:
    """Two live replicas, settled: (the owner of the source, the other)."""
    pair = [open_one("one"), open_one("two")]
    for _ in range(2):  # the first beats register the replicas, the next ones settle
        for replica in pair:
            replica.membership.beat()
    owner = replicas.preferred(SOURCE, ["one", "two"])
    first, second = pair if pair[0].name == owner else pair[::-1]
    assert first.membership.held() == [SOURCE] and second.membership.held() == []
    return first, second


def _job(repo: Repo) -> runs.Job:
    source = repo.settings.sources[0]
    return runs.Job(
        id=str(uuid.uuid4()), source=source, forge="api", base=repo.base, head=repo.head
    )


def _finished(store: Store, sim_id: str) -> SimulationRecord:
    for _ in range(1500):
        found = store.get_simulation(sim_id)
        assert found is not None
        if found.status not in service.UNFINISHED:
            return found
        time.sleep(0.02)
    raise AssertionError(f"simulation {sim_id} did not finish")


def test_a_simulation_submitted_to_a_replica_not_owning_its_source_runs_once_on_the_owner(
    open_replica: Open, repo: Repo
) -> None:
    owner, other = _pair(open_replica)
    sim_id = other.simulator.submit(_job(repo))
    [queued] = other.store.queued_runs(kind=runqueue.SIMULATION)
    assert (queued.run_id, queued.target, queued.claimed_by) == (sim_id, SOURCE, None)
    assert other.simulator.claim() == []  # not its source
    assert owner.simulator.claim() == [sim_id]
    done = _finished(owner.store, sim_id)
    assert (done.status, done.head) == (SimulationStatus.SUCCEEDED, repo.head)
    for _ in range(200):  # the row goes right after the final record
        if not owner.store.queued_runs():
            break
        time.sleep(0.02)
    assert owner.store.queued_runs() == []
    assert (owner.simulator.claim(), other.simulator.claim()) == ([], [])
    assert (owner.finished, other.finished) == ([sim_id], [])
    run = owner.store.get_run(sim_id)
    assert run is not None and run.status is RunStatus.SUCCEEDED


def test_a_flood_to_a_replica_not_owning_the_source_leaves_at_most_max_queued_waiting(
    open_replica: Open, repo: Repo
) -> None:
    owner, other = _pair(open_replica)
    context = other.simulator.context
    limits = context.limits.model_copy(update={"max_queued": 3})
    flooded = Simulator(
        dataclasses.replace(context, limits=limits),
        sources=repo.settings.sources,
        claims=other.claims(),
    )
    jobs = [dataclasses.replace(_job(repo), forge="github", number=n) for n in (1, 2, 3, 1, 4, 5)]
    try:
        for job in jobs:
            assert flooded.submit(job) == job.id
            assert len(other.store.queued_runs(kind=runqueue.SIMULATION)) <= 3
    finally:
        flooded.close()
    waiting = [q.run_id for q in other.store.queued_runs()]
    assert waiting == [j.id for j in jobs[3:]]
    crowded = "superseded: more than 3 simulations waiting"
    reasons = (f"superseded by simulation {jobs[3].id}", crowded, crowded)
    for job, why in zip(jobs[:3], reasons, strict=True):
        record, run = other.store.get_simulation(job.id), other.store.get_run(job.id)
        assert record is not None and run is not None
        assert (record.status, record.summary) == (SimulationStatus.CANCELLED, why)
        assert (run.status, run.revision, run.error) == (RunStatus.CANCELLED, repo.head, None)
    assert other.finished == [j.id for j in jobs[:3]]  # announced where they were cancelled
    assert owner.simulator.claim() == waiting
    for sim_id in waiting:
        assert _finished(owner.store, sim_id).status is SimulationStatus.SUCCEEDED
    assert sorted(owner.finished) == sorted(waiting)


def test_a_simulation_whose_claimer_died_is_run_again_by_the_new_owner_not_failed(
    open_replica: Open, repo: Repo
) -> None:
    dead, heir = _pair(open_replica)
    sim_id = heir.simulator.submit(_job(repo))
    # The owner claims it and starts it (its record says running), then is killed -9.
    [claimed] = dead.claims().claim()
    assert claimed.run_id == sim_id
    record = dead.store.get_simulation(sim_id)
    assert record is not None
    dead.store.put_simulation(dataclasses.replace(record, status=SimulationStatus.RUNNING))
    assert heir.simulator.claim() == []  # the claimer's lease is live: its simulation
    clock = heir.membership.clock
    assert isinstance(clock, ManualClock)
    gained: set[str] = set()
    for _ in range(4):  # the heir beats on; the dead claimer's leases expire after the ttl
        clock.advance(TTL.total_seconds() / 3 + 0.1)
        gained |= heir.membership.beat().gained.keys()
    assert gained == {SOURCE}
    heir.simulator.recover()  # as a replica (re)starting does: a queued one is not failed
    again = heir.store.get_simulation(sim_id)
    assert again is not None and again.status is SimulationStatus.RUNNING
    assert heir.simulator.claim() == [sim_id]
    done = _finished(heir.store, sim_id)
    assert done.status is SimulationStatus.SUCCEEDED, done.summary
    assert heir.finished == [sim_id] and dead.finished == []


def test_a_replica_starting_fails_only_simulations_no_replica_can_run(
    open_replica: Open, repo: Repo
) -> None:
    owner, _ = _pair(open_replica)
    # A live replica's simulation: queued, claimed and running there.
    held = _job(repo)
    record, run = runs.queued_records(held, at=owner.membership.clock.now())
    owner.store.enqueue_simulation(
        dataclasses.replace(record, status=SimulationStatus.RUNNING),
        run=run,
        target=SOURCE,
        payload=service.payload(held),
        at=record.created_at,
    )
    assert [q.run_id for q in owner.claims().claim()] == [held.id]
    # A simulation some daemon left unfinished outside the queue (before version 7).
    orphan = _job(repo)
    runs.queued(orphan, context=owner.simulator.context)
    starting = open_replica("three")
    starting.simulator.recover()
    kept = starting.store.get_simulation(held.id)
    assert kept is not None and kept.status is SimulationStatus.RUNNING
    failed = starting.store.get_simulation(orphan.id)
    assert failed is not None
    assert (failed.status, failed.summary) == (SimulationStatus.FAILED, service.INTERRUPTED)
    assert [q.claimed_by for q in starting.store.queued_runs()] == [owner.name]


def test_a_replica_whose_lease_lapsed_writes_nothing_more_of_its_simulation(
    open_replica: Open, repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner, other = _pair(open_replica)
    started, go = threading.Event(), threading.Event()
    execute = runs.execute

    def held(job: runs.Job, *, context: runs.Context) -> SimulationRecord:
        started.set()
        assert go.wait(30)
        return execute(job, context=context)

    monkeypatch.setattr(runs, "execute", held)
    sim_id = owner.simulator.submit(_job(repo))
    assert started.wait(30)  # claimed and running on the owner
    clock = owner.membership.clock
    assert isinstance(clock, ManualClock)
    clock.advance(TTL.total_seconds() + 1)  # a pause past the ttl: the lease lapses
    owner.membership.beat()  # back, under a new token
    go.set()
    for _ in range(200):
        if sim_id not in owner.simulator.running:
            break
        time.sleep(0.02)
    found = owner.store.get_simulation(sim_id)
    assert found is not None and found.status is SimulationStatus.QUEUED  # refused writes
    token = other.store.acquire(REPLICA + other.name, other.name, ttl=TTL, now=clock.now())
    assert token is not None
    [free] = other.store.claim_runs(
        other.name, token=token, targets=[SOURCE], now=clock.now(), kind=runqueue.SIMULATION
    )
    assert free.run_id == sim_id  # for the next owner to run again


def test_a_replica_restarted_under_its_name_runs_what_it_had_claimed(
    open_replica: Open, repo: Repo
) -> None:
    owner, _ = _pair(open_replica)
    held = _job(repo)
    record, run = runs.queued_records(held, at=owner.membership.clock.now())
    owner.store.enqueue_simulation(
        record, run=run, target=SOURCE, payload=service.payload(held), at=record.created_at
    )
    assert [q.run_id for q in owner.claims().claim()] == [held.id]  # then the process stops
    again = open_replica(owner.name)  # the same name, its lease still live: the same token
    again.membership.beat()
    again.simulator.recover()
    assert again.simulator.claim() == [held.id]
    assert _finished(again.store, held.id).status is SimulationStatus.SUCCEEDED
