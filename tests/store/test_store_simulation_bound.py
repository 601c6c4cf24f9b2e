"""What waits of simulations in the store is bounded where they are queued, on every
backend: past `most` waiting for a source the oldest are cancelled, a newer simulation of a
pull request cancels the waiting one of the same pull request, claimed and finished ones
are left alone, racing submitters (and a claimer beside them) never leave more than `most`
waiting, and every simulation pushed out stays in the store, `cancelled` with why. The
store and the simulation service's in-process queue (`service.admit`) apply one rule:
a property test feeds both the same deliveries and compares what each keeps and cancels."""

from __future__ import annotations

import collections
import itertools
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.reconcile.settings import DaemonSource
from reconciler.reconcile.simulations.runs import Job
from reconciler.reconcile.simulations.service import admit
from reconciler.runstate import RunKind, RunStatus
from reconciler.store import runqueue
from reconciler.store.interfaces import SimulationRecord, SimulationStatus, Store
from reconciler.store.leases import REPLICA
from reconciler.store.postgres import PostgresStore
from reconciler.store.retention import RetentionSettings
from tests.postgres import Server
from tests.store import store_factories as f
from tests.store.conftest import Opener

CROWDED = "superseded: more than {most} simulations waiting"


def _submit(
    store: Store,
    sim_id: str,
    *,
    number: int | None,
    seconds: float,
    most: int | None,
    source: str = "a",
    forge: str = "github",
) -> list[SimulationRecord]:
    """Queue a simulation as the service does (`runs.queued_records`); what it pushed out."""
    record = f.simulation(
        sim_id,
        source=source,
        number=number,
        seconds=seconds,
        forge=forge,
        status=SimulationStatus.QUEUED,
        blocked=False,
        conclusion=None,
        summary="",
        report=None,
        markdown=(),
        finished_at=None,
    )
    run = f.run(
        sim_id,
        kind=RunKind.SIMULATION,
        name=source if number is None else f"{source}#{number}",
        status=RunStatus.PENDING,
        started_at=f.at(seconds),
        revision=None,
    )
    payload = {"forge": forge, "number": number, "base": "main", "head": "pr"}
    return store.enqueue_simulation(
        record, run=run, target=source, payload=payload, at=f.at(seconds), most=most
    )


def _waiting(store: Store, target: str = "a") -> list[str]:
    return [
        q.run_id
        for q in store.queued_runs(kind=runqueue.SIMULATION)
        if q.target == target and q.claimed_by is None
    ]


def _assert_cancelled(store: Store, sim_id: str, *, why: str, seconds: float) -> None:
    record, run = store.get_simulation(sim_id), store.get_run(sim_id)
    assert record is not None and run is not None
    assert (record.status, record.summary, record.finished_at) == (
        SimulationStatus.CANCELLED,
        why,
        f.at(seconds),
    )
    assert (run.status, run.finished_at, run.error) == (RunStatus.CANCELLED, f.at(seconds), None)
    assert sim_id not in {q.run_id for q in store.queued_runs()}


def test_past_most_the_oldest_simulations_waiting_for_a_source_are_cancelled(
    store: Store,
) -> None:
    pushed: dict[str, list[SimulationRecord]] = {}
    for n in range(6):
        pushed[f"s{n}"] = _submit(store, f"s{n}", number=n, seconds=n, most=3)
        if n == 2:  # another source's simulations are counted apart
            assert _submit(store, "b0", number=0, seconds=2, most=3, source="b") == []
    assert [q.run_id for q in store.queued_runs()] == ["b0", "s3", "s4", "s5"]
    why = CROWDED.format(most=3)
    for n in range(3):
        _assert_cancelled(store, f"s{n}", why=why, seconds=n + 3)
        assert pushed[f"s{n + 3}"] == [store.get_simulation(f"s{n}")]
    assert [pushed[f"s{n}"] for n in range(3)] == [[], [], []]
    # Without `most`, nothing is bounded here (the in-process queue's case).
    assert _submit(store, "s6", number=6, seconds=6, most=None) == []
    assert _waiting(store) == ["s3", "s4", "s5", "s6"]


def test_a_newer_simulation_of_a_pull_request_cancels_the_waiting_one(store: Store) -> None:
    assert _submit(store, "s1", number=7, seconds=0, most=32) == []
    assert _submit(store, "s2", number=8, seconds=1, most=32) == []
    assert _submit(store, "s3", number=7, seconds=2, most=32, forge="gitlab") == []
    assert _submit(store, "s4", number=7, seconds=3, most=32, source="b") == []
    assert _submit(store, "h1", number=None, seconds=4, most=32) == []  # by hand: no pull
    assert _submit(store, "h2", number=None, seconds=5, most=32) == []  # request, no rival
    [gone] = _submit(store, "s5", number=7, seconds=6, most=32)
    assert gone == store.get_simulation("s1")
    _assert_cancelled(store, "s1", why="superseded by simulation s5", seconds=6)
    assert [q.run_id for q in store.queued_runs()] == ["s2", "s3", "s4", "h1", "h2", "s5"]


def test_claimed_and_finished_simulations_are_left_alone(store: Store) -> None:
    _submit(store, "s1", number=7, seconds=0, most=2)
    _submit(store, "s2", number=8, seconds=1, most=2)
    token = store.acquire(REPLICA + "one", "one", ttl=timedelta(seconds=60), now=f.at(2))
    assert token is not None
    claimed = store.claim_runs(
        "one", token=token, targets=["a"], now=f.at(2), kind=runqueue.SIMULATION
    )
    assert [q.run_id for q in claimed] == ["s1", "s2"]
    # Claimed: the claimer's own queue bounds them. Not counted, not superseded.
    assert _submit(store, "s3", number=7, seconds=3, most=2) == []
    assert _submit(store, "s4", number=9, seconds=4, most=2) == []
    [gone] = _submit(store, "s5", number=10, seconds=5, most=2)
    assert gone.id == "s3"
    _assert_cancelled(store, "s3", why=CROWDED.format(most=2), seconds=5)
    for sim_id in ("s1", "s2"):
        record = store.get_simulation(sim_id)
        assert record is not None and record.status is SimulationStatus.QUEUED
    assert {q.run_id: q.claimed_by for q in store.queued_runs()} == {
        "s1": "one",
        "s2": "one",
        "s4": None,
        "s5": None,
    }
    # A finished simulation whose row was given back unclaimed is not waiting: untouched.
    done = f.simulation("s2", number=8, seconds=1)  # succeeded, with its report
    store.put_simulation(done)
    assert store.release_runs("one", kind=runqueue.SIMULATION) == 2
    assert [g.id for g in _submit(store, "s6", number=8, seconds=6, most=2)] == ["s1", "s4"]
    assert store.get_simulation("s2") == done
    assert _waiting(store) == ["s2", "s5", "s6"]


def test_a_bound_that_lets_nothing_wait_is_refused_and_nothing_is_recorded(store: Store) -> None:
    _submit(store, "s1", number=1, seconds=0, most=1)
    with pytest.raises(ValueError) as refused:
        _submit(store, "s2", number=2, seconds=1, most=0)
    assert str(refused.value) == "most: 0 would not let the new simulation wait"
    assert (store.get_simulation("s2"), store.get_run("s2")) == (None, None)
    record = store.get_simulation("s1")
    assert record is not None and record.status is SimulationStatus.QUEUED
    assert [q.run_id for q in store.queued_runs()] == ["s1"]


def test_racing_submitters_never_leave_more_than_most_waiting_and_lose_nothing(
    open_store: Opener,
) -> None:
    most, per_thread = 4, 12
    stores: list[Store] = [open_store() for _ in range(4)]
    claimer = open_store()
    token = claimer.acquire(REPLICA + "one", "one", ttl=timedelta(seconds=600), now=f.at(0))
    assert token is not None
    start = threading.Barrier(len(stores) + 1)
    over: list[list[str]] = []

    def submit(i: int) -> list[str]:
        start.wait()
        gone = []
        for n in range(per_thread):
            sim_id = f"t{i}-{n}"
            number = (i * per_thread + n) % 7  # pull requests pushed to again and again
            gone += [g.id for g in _submit(stores[i], sim_id, number=number, seconds=n, most=most)]
            if len(waiting := _waiting(stores[i])) > most:
                over.append(waiting)
        return gone

    def claim() -> list[str]:
        start.wait()
        taken: list[str] = []
        for _ in range(8):
            taken += [
                q.run_id
                for q in claimer.claim_runs(
                    "one", token=token, targets=["a"], now=f.at(1), limit=2, kind="simulation"
                )
            ]
        return taken

    with ThreadPoolExecutor(len(stores) + 1) as pool:
        claiming = pool.submit(claim)
        cancelled = list(itertools.chain(*pool.map(submit, range(len(stores)))))
        claimed = claiming.result()
    assert over == []
    assert len(cancelled) == len(set(cancelled))
    assert not set(cancelled) & set(claimed)
    queued = {q.run_id: q for q in claimer.queued_runs()}
    assert len([q for q in queued.values() if q.claimed_by is None]) <= most
    assert {q.run_id for q in queued.values() if q.claimed_by is not None} == set(claimed)
    everyone = [f"t{i}-{n}" for i in range(len(stores)) for n in range(per_thread)]
    found = {sim_id: claimer.get_simulation(sim_id) for sim_id in everyone}
    statuses = {
        sim_id: (None if r is None else r.status, sim_id in queued) for sim_id, r in found.items()
    }
    assert statuses == {
        sim_id: (SimulationStatus.CANCELLED, False)
        if sim_id in cancelled
        else (SimulationStatus.QUEUED, True)
        for sim_id in everyone
    }


def test_a_claim_taken_while_a_submitter_bounds_the_queue_is_left_alone(
    postgres: Server,
) -> None:
    """PostgreSQL, where a claimer does not wait for submitters: a claim in flight when a
    submission would push its simulation out holds the row; the submitter waits for it and
    then leaves the simulation, claimed now, alone (only PostgreSQL runs writers at once)."""
    name = postgres.database()
    store = PostgresStore(postgres.url(name), retention=RetentionSettings())
    try:
        _submit(store, "s1", number=1, seconds=0, most=1)
        with postgres.connect(name) as claim, postgres.connect(name) as watch:
            claim.execute("UPDATE run_queue SET claimed_by = 'one', claim_token = 1")
            submitting = threading.Thread(
                target=_submit, args=(store, "s2"), kwargs={"number": 2, "seconds": 1, "most": 1}
            )
            submitting.start()
            watch.autocommit = True
            for _ in range(500):  # until the submitter waits for the claimed row
                found = watch.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                if found.fetchone() == (1,):
                    break
                time.sleep(0.01)
            else:
                raise AssertionError("the submitter never waited for the claim")
            claim.commit()
            submitting.join(30)
        record = store.get_simulation("s1")
        assert record is not None and record.status is SimulationStatus.QUEUED
        assert [(q.run_id, q.claimed_by) for q in store.queued_runs()] == [
            ("s1", "one"),
            ("s2", None),
        ]
    finally:
        store.close()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    most=st.integers(min_value=1, max_value=4),
    deliveries=st.lists(
        st.tuples(st.sampled_from(["github", "gitlab"]), st.none() | st.integers(1, 3)),
        max_size=10,
    ),
)
def test_the_store_and_the_in_process_queue_keep_and_cancel_the_same(
    store: Store, most: int, deliveries: list[tuple[str, int | None]]
) -> None:
    target = f"src-{uuid.uuid4().hex[:8]}"  # each example its own source in the one store
    source = DaemonSource(name=target, path=Path("/srv/repo"))
    queue: collections.deque[Job] = collections.deque()
    in_process, in_store = [], []
    for n, (forge, number) in enumerate(deliveries):
        job = Job(id=f"{target}-{n}", source=source, forge=forge, number=number, base="m", head="p")
        in_process += [(old.id, why) for old, why in admit(queue, job, most=most)]
        pushed = _submit(
            store, job.id, number=number, seconds=n, most=most, source=target, forge=forge
        )
        in_store += [(old.id, old.summary) for old in pushed]
    assert in_store == in_process
    assert _waiting(store, target) == [j.id for j in queue]
