"""What the daemon keeps of simulations is bounded: the queue (the oldest waiting job gives
way), one stored report (cut, marked), and all of them (the store, tests/store)."""

from __future__ import annotations

import collections
from datetime import UTC, datetime
from pathlib import Path

from reconciler.reconcile.settings import DaemonSource
from reconciler.reconcile.simulations import runs as simulation_run
from reconciler.reconcile.simulations import stored_reports
from reconciler.reconcile.simulations.runs import Job
from reconciler.reconcile.simulations.service import admit
from reconciler.store.interfaces import SimulationRecord, SimulationStatus

SOURCE = DaemonSource(name="main", path=Path("/srv/repo"))
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def job(sim_id: str, number: int | None) -> Job:
    return Job(id=sim_id, source=SOURCE, forge="github", number=number, base="main", head="pr")


def test_past_the_bound_the_oldest_waiting_simulation_is_superseded() -> None:
    queue: collections.deque[Job] = collections.deque()
    for i in range(3):
        assert admit(queue, job(f"j{i}", i), most=3) == []
    assert admit(queue, job("j3", 3), most=3) == [
        (job("j0", 0), "superseded: more than 3 simulations waiting")
    ]
    assert admit(queue, job("j4", 2), most=3) == [(job("j2", 2), "superseded by simulation j4")]
    assert [j.id for j in queue] == ["j1", "j3", "j4"]


def test_a_flood_of_deliveries_keeps_the_queue_at_its_bound() -> None:
    queue: collections.deque[Job] = collections.deque()
    pushed_out = [old.id for i in range(1_000) for old, _ in admit(queue, job(f"j{i}", i), most=32)]
    assert pushed_out == [f"j{i}" for i in range(968)]
    assert [j.id for j in queue] == [f"j{i}" for i in range(968, 1_000)]


def record(report: dict[str, object], parts: tuple[str, ...]) -> SimulationRecord:
    return SimulationRecord(
        id="s1",
        source="main",
        forge="github",
        number=7,
        base="a" * 40,
        head="b" * 40,
        status=SimulationStatus.SUCCEEDED,
        blocked=True,
        conclusion="failure",
        summary="❌ would be blocked",
        report=report,
        markdown=parts,
        created_at=NOW,
    )


def test_a_report_over_the_limit_is_stored_cut_with_a_marker() -> None:
    report = {
        "base": "a" * 40,
        "head": "b" * 40,
        "blocked": True,
        "blockingReasons": ["1 newly denied strict decision(s)"],
        "decisions": {"deltas": ["x" * 200_000]},
    }
    parts = tuple(f"part {i}\n" + "p" * 60_000 for i in range(5))
    whole = record(report, parts)
    found = stored_reports.bounded(whole, max_bytes=128 * 1024)
    why = (
        f"the report ({stored_reports.size(whole)} bytes) is over the 128 KiB limit of a "
        "stored report (simulations.maxReportKib); run `reconciler simulate` for all of it"
    )
    assert found.report == {
        "base": "a" * 40,
        "head": "b" * 40,
        "blocked": True,
        "blockingReasons": ["1 newly denied strict decision(s)"],
        "truncated": why,
    }
    assert found.markdown == (*parts[:2], f"**… 3 more parts left out: {why}.**\n")
    assert stored_reports.size(found) <= 128 * 1024
    check = simulation_run.check_run(found)
    assert (check["conclusion"], check["output"]["title"]) == ("failure", "report cut")
    assert check["output"]["summary"] == f"❌ would be blocked\n\n{why}"


def test_a_report_within_the_limit_is_stored_whole() -> None:
    small = record({"base": "a" * 40}, ("### all of it\n",))
    assert stored_reports.bounded(small, max_bytes=128 * 1024) == small
