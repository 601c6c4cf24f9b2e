"""Retention: every growing table is bounded by count and age; what is current is never pruned."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import store_factories as f

from reconciler import runstate
from reconciler.policy.decisions import Outcome
from reconciler.store import interfaces
from reconciler.store.retention import RetentionReport, RetentionSettings

Opener = Callable[..., interfaces.Store]
NOW = f.at(10_000)


def test_an_empty_store_prunes_nothing(store: interfaces.Store) -> None:
    assert store.apply_retention(now=NOW) == RetentionReport()


def test_decisions_are_bounded_by_count_keeping_the_newest(open_store: Opener) -> None:
    store = open_store(RetentionSettings(max_decisions=3))
    logged = [f.decision(name=f"r{i}", seconds=9_000 + i) for i in range(5)]
    store.append_decisions(logged)
    assert store.apply_retention(now=NOW) == RetentionReport(decisions=2)
    assert list(store.iter_decisions()) == logged[2:]
    assert store.apply_retention(now=NOW).total == 0


def test_decisions_are_bounded_by_age(open_store: Opener) -> None:
    store = open_store(RetentionSettings(decision_max_age=timedelta(seconds=100)))
    old, young = f.decision(name="old", seconds=0), f.decision(name="young", seconds=9_950)
    store.append_decisions([old, young])
    assert store.apply_retention(now=NOW).decisions == 1
    assert store.decisions() == [young]


def test_current_violations_survive_pruning_of_their_decisions(open_store: Opener) -> None:
    store = open_store(RetentionSettings(max_decisions=1, decision_max_age=timedelta(seconds=1)))
    deny = f.decision(name="web", outcome=Outcome.DENY, seconds=0)
    allowed = f.decision(name="api", outcome=Outcome.ALLOW, seconds=0)
    store.append_decisions([deny, allowed])
    error = f.decision(name="db", outcome=Outcome.ERROR, seconds=9_999)
    store.append_decisions([error])
    assert store.apply_retention(now=NOW).decisions == 2
    assert store.decisions() == [error]
    assert [v.resource.name for v in store.violations()] == ["db", "web"]


def test_events_are_bounded_by_count_and_age_and_ids_never_repeat(open_store: Opener) -> None:
    store = open_store(RetentionSettings(max_events=2, event_max_age=timedelta(seconds=500)))
    first = store.append_event(f.event("Old", seconds=0))
    kept = [store.append_event(f.event(f"E{i}", seconds=9_900 + i)) for i in range(3)]
    assert store.apply_retention(now=NOW) == RetentionReport(events=2)
    assert store.events() == kept[1:]
    store.apply_retention(now=NOW + timedelta(days=1))
    assert store.events() == []
    newer = store.append_event(f.event("New", seconds=20_000))
    assert (newer.id or 0) > (kept[-1].id or 0) > (first.id or 0)


def test_finished_runs_are_bounded_and_unfinished_ones_kept(open_store: Opener) -> None:
    store = open_store(RetentionSettings(max_runs=2, run_max_age=timedelta(seconds=100)))
    store.create_run(
        f.run("old", status=runstate.RunStatus.FAILED, finished_at=f.at(0), steps=(f.step("a"),))
    )
    for i in range(3):
        store.create_run(
            f.run(f"done{i}", status=runstate.RunStatus.SUCCEEDED, finished_at=f.at(9_990))
        )
    store.create_run(f.run("waiting", status=runstate.RunStatus.WAITING, started_at=f.at(0)))
    store.create_run(f.run("running", status=runstate.RunStatus.RUNNING, started_at=f.at(0)))
    assert store.apply_retention(now=NOW) == RetentionReport(runs=2)
    assert [r.id for r in store.list_runs()] == ["running", "waiting", "done2", "done1"]
    assert store.get_run("old") is None


def test_steps_of_a_pruned_run_go_with_it(open_store: Opener) -> None:
    store = open_store(RetentionSettings(max_runs=1))
    store.create_run(f.run("r1", status=runstate.RunStatus.CANCELLED, steps=(f.step("a"),)))
    store.create_run(f.run("r2", status=runstate.RunStatus.SUCCEEDED, finished_at=f.at(9_999)))
    store.apply_retention(now=NOW)
    store.create_run(f.run("r1"))  # the id is free again, with no step left behind
    assert store.get_run("r1") == f.run("r1")


def test_revisions_are_bounded_per_source(open_store: Opener) -> None:
    store = open_store(RetentionSettings(max_revisions_per_source=2))
    for sha in "abcd":
        store.record_revision("main", f.revision(sha))
    store.record_revision("infra", f.revision("e"))
    assert store.apply_retention(now=NOW) == RetentionReport(revisions=2)
    assert [r.sha[0] for r in store.revisions("main")] == ["d", "c"]
    assert [r.sha[0] for r in store.revisions("infra")] == ["e"]


def test_statuses_are_never_pruned(open_store: Opener) -> None:
    store = open_store(RetentionSettings(history_per_object=0))
    store.put_status(f.status("motd", history=3))
    store.apply_retention(now=NOW + timedelta(days=365))
    assert store.get_status("File//motd") == f.status("motd")
