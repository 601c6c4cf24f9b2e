"""The `Store` contract: what every backend must do, method by method."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

import pytest
import store_factories as f

from reconciler import runstate
from reconciler.conditions import ConditionStatus
from reconciler.policy.decisions import Action, Outcome
from reconciler.store import interfaces


def test_revisions_are_listed_newest_first_per_source(store: interfaces.Store) -> None:
    for sha in "abc":
        store.record_revision("main", f.revision(sha))
    store.record_revision("other", f.revision("d"))
    assert [r.sha[0] for r in store.revisions("main")] == ["c", "b", "a"]
    assert store.revisions("main", limit=1) == [f.revision("c")]
    assert store.revisions("other") == [f.revision("d")]
    assert store.revisions("missing") == []


def test_recording_a_revision_again_makes_it_newest_without_duplicating(
    store: interfaces.Store,
) -> None:
    for sha in "aba":
        store.record_revision("main", f.revision(sha))
    assert [r.sha[0] for r in store.revisions("main")] == ["a", "b"]


def test_status_round_trips_every_field(store: interfaces.Store) -> None:
    status = f.status("motd", ready=False, history=3)
    store.put_status(status)
    assert store.get_status("File//motd") == status
    assert store.get_status("File//absent") is None


def test_put_status_replaces_the_previous_one(store: interfaces.Store) -> None:
    store.put_status(f.status("motd", ready=False))
    newer = f.status("motd", ready=True, observed_generation=4, updated_at=f.at(90))
    store.put_status(newer)
    assert store.get_status("File//motd") == newer
    assert store.list_status(condition="Drifted") == []


def test_list_status_filters_by_source_and_condition(store: interfaces.Store) -> None:
    store.put_status(f.status("b", ready=True))
    store.put_status(f.status("a", ready=False))
    store.put_status(f.status("c", ready=False, source="infra"))
    assert [s.name for s in store.list_status()] == ["a", "b", "c"]
    assert [s.name for s in store.list_status(source="main")] == ["a", "b"]
    assert [s.name for s in store.list_status(condition="Drifted")] == ["a", "c"]
    not_ready = store.list_status(condition="Ready", condition_status=ConditionStatus.FALSE)
    assert [s.name for s in not_ready] == ["a", "c"]
    assert [s.name for s in store.list_status(source="infra", condition="Ready")] == []


def test_history_keeps_only_the_newest_entries(open_store: Callable[..., interfaces.Store]) -> None:
    from reconciler.store.retention import RetentionSettings

    store = open_store(RetentionSettings(history_per_object=2))
    store.put_status(f.status("motd", history=5))
    kept = store.get_status("File//motd")
    assert kept is not None
    assert [h.revision for h in kept.history] == ["r3", "r4"]


def test_delete_status_forgets_the_object_and_its_violations(store: interfaces.Store) -> None:
    store.put_status(f.status("web", key="Deployment/prod/web"))
    store.append_decisions([f.decision(name="web"), f.decision(name="api")])
    assert store.delete_status("Deployment/prod/web") is True
    assert store.delete_status("Deployment/prod/web") is False
    assert store.get_status("Deployment/prod/web") is None
    assert store.list_status(condition="Ready") == []
    assert [v.resource.name for v in store.violations()] == ["api"]
    assert len(store.decisions()) == 2  # the log keeps what was decided


def test_decisions_round_trip_newest_first_with_filters(store: interfaces.Store) -> None:
    logged = [
        f.decision(policy="p1", name="web", seconds=0),
        f.decision(policy="p2", name="web", seconds=10, outcome=Outcome.ALLOW),
        f.decision(policy="p1", name="api", seconds=20, outcome=Outcome.WARN),
    ]
    assert store.append_decisions(logged) == 3
    assert store.append_decisions([]) == 0
    assert store.decisions() == logged[::-1]
    assert store.decisions(limit=1) == [logged[2]]
    assert store.decisions(policy="p1") == [logged[2], logged[0]]
    assert store.decisions(key="Deployment/prod/web") == [logged[1], logged[0]]
    assert store.decisions(since=f.at(10)) == [logged[2], logged[1]]
    assert store.decisions(policy="p1", key="Deployment/prod/web", since=f.at(1)) == []


def test_iter_decisions_reads_everything_oldest_first_in_batches(store: interfaces.Store) -> None:
    logged = [f.decision(name=f"r{i}", seconds=i) for i in range(25)]
    store.append_decisions(logged[:10])
    store.append_decisions(logged[10:])
    assert list(store.iter_decisions(batch=7)) == logged
    assert list(store.iter_decisions(batch=100)) == logged


def test_iter_decisions_on_an_empty_log_yields_nothing(store: interfaces.Store) -> None:
    assert list(store.iter_decisions()) == []


def test_violations_are_the_latest_decision_per_policy_and_key(store: interfaces.Store) -> None:
    store.append_decisions(
        [
            f.decision(policy="p1", name="web", outcome=Outcome.DENY, seconds=0),
            f.decision(policy="p1", name="web", outcome=Outcome.ALLOW, seconds=5),  # fixed
            f.decision(policy="p1", name="api", outcome=Outcome.ALLOW, seconds=0),
            f.decision(policy="p1", name="api", outcome=Outcome.ERROR, seconds=5),  # broke
            f.decision(policy="p2", name="web", outcome=Outcome.DENY, seconds=1),
            f.decision(policy="p2", name="db", outcome=Outcome.WARN, seconds=1),
        ]
    )
    found = [(v.policy, v.resource.name, v.outcome) for v in store.violations()]
    assert found == [("p1", "api", Outcome.ERROR), ("p2", "web", Outcome.DENY)]
    assert [v.policy for v in store.violations(policy="p2")] == ["p2"]
    assert [v.policy for v in store.violations(key="Deployment/prod/web")] == ["p2"]


def test_violations_follow_time_across_batches_not_arrival(store: interfaces.Store) -> None:
    store.append_decisions([f.decision(outcome=Outcome.ALLOW, seconds=10)])
    store.append_decisions([f.decision(outcome=Outcome.DENY, seconds=5)])  # late, older
    assert store.violations() == []
    later_same_time = f.decision(outcome=Outcome.DENY, seconds=10, digest="d1")
    store.append_decisions([later_same_time])
    assert store.violations() == [later_same_time]


def test_changes_only_logs_a_decision_when_it_differs_from_the_latest(
    store: interfaces.Store,
) -> None:
    first = f.decision(seconds=0, digest="d0")
    assert store.append_decisions([first], inputs={"d0": "{}"}, changes_only=True) == 1
    again = f.decision(seconds=60, digest="d1")  # the same verdict, later, on a new input
    assert store.append_decisions([again], inputs={"d1": '{"a":1}'}, changes_only=True) == 0
    relabelled = replace(again, action_taken=Action.VIOLATION)
    fixed = f.decision(seconds=120, outcome=Outcome.ALLOW, digest="d2")
    other = f.decision(name="api", seconds=60, digest="d3")
    batch = [relabelled, relabelled, fixed, other]
    inputs = {"d1": '{"a":1}', "d2": '{"a":2}', "d3": '{"a":3}'}
    assert store.append_decisions(batch, inputs=inputs, changes_only=True) == 3
    assert store.decisions() == [other, fixed, relabelled, first]
    assert store.get_inputs(["d0", "d1", "d2", "d3"]) == {
        "d0": "{}",
        "d1": '{"a":1}',
        "d2": '{"a":2}',
        "d3": '{"a":3}',
    }
    assert store.append_decisions([again], changes_only=False) == 1  # the plain log appends


def test_changes_only_keeps_a_policys_gate_and_warning_apart(store: interfaces.Store) -> None:
    # One binding gives a gate decision (allow) and a separate warning for one resource;
    # each repeats only itself, however the two interleave.
    gate = f.decision(seconds=0, outcome=Outcome.ALLOW, digest="d0")
    warning = f.decision(seconds=0, outcome=Outcome.WARN, digest="d0")
    assert store.append_decisions([gate, warning], changes_only=True) == 2
    again = [replace(gate, at=gate.at.replace(minute=5)), replace(warning, at=gate.at)]
    assert store.append_decisions(again, changes_only=True) == 0
    assert store.append_decisions(again[::-1], changes_only=True) == 0
    assert store.append_decisions([again[1]], changes_only=True) == 0
    assert store.decisions() == [warning, gate]


def test_changes_only_drops_the_inputs_of_repeated_decisions(store: interfaces.Store) -> None:
    store.append_decisions([f.decision(digest="d0")], inputs={"d0": "{}"}, changes_only=True)
    repeat = f.decision(seconds=5, digest="d9")
    assert store.append_decisions([repeat], inputs={"d9": "[]"}, changes_only=True) == 0
    assert store.get_inputs(["d9"]) == {}


def test_a_run_round_trips_with_its_steps_in_write_order(store: interfaces.Store) -> None:
    run = f.run(
        "r1",
        steps=(
            f.step("b"),
            f.step("a", status=runstate.StepStatus.RUNNING, finished_at=None, output={}),
        ),
    )
    store.create_run(run)
    assert store.get_run("r1") == run
    assert store.get_run("absent") is None


def test_creating_a_run_twice_is_refused_and_keeps_the_first(store: interfaces.Store) -> None:
    store.create_run(f.run("r1"))
    with pytest.raises(interfaces.RunExists) as raised:
        store.create_run(f.run("r1", name="other"))
    assert str(raised.value) == "run 'r1' already exists"
    assert store.get_run("r1") == f.run("r1")


def test_update_step_is_an_idempotent_upsert(store: interfaces.Store) -> None:
    store.create_run(f.run("r1"))
    running = f.step("archive", status=runstate.StepStatus.RUNNING, finished_at=None)
    done = f.step("archive")
    retry = f.step("archive", attempt=2, status=runstate.StepStatus.FAILED, error="exit 2")
    for step in (running, running, done, done, retry, retry):
        store.update_step("r1", step)
    stored = store.get_run("r1")
    assert stored is not None
    assert stored.steps == (done, retry)


def test_update_run_overwrites_fields_and_upserts_its_steps(store: interfaces.Store) -> None:
    store.create_run(f.run("r1", steps=(f.step("a", status=runstate.StepStatus.RUNNING),)))
    store.update_step("r1", f.step("b"))
    finished = f.run(
        "r1",
        status=runstate.RunStatus.FAILED,
        finished_at=f.at(9),
        error="a failed",
        steps=(f.step("a", status=runstate.StepStatus.FAILED, error="boom"),),
    )
    store.update_run(finished)
    store.update_run(finished)
    assert store.get_run("r1") == replace(finished, steps=(*finished.steps, f.step("b")))


def test_updates_of_an_unknown_run_are_refused(store: interfaces.Store) -> None:
    with pytest.raises(interfaces.RunNotFound) as raised:
        store.update_run(f.run("ghost"))
    assert str(raised.value) == "run 'ghost' does not exist"
    with pytest.raises(interfaces.RunNotFound):
        store.update_step("ghost", f.step("a"))
    assert store.list_runs() == []


def test_list_runs_newest_first_filtered_by_kind_and_status(store: interfaces.Store) -> None:
    store.create_run(f.run("r1", kind=runstate.RunKind.RUNBOOK, steps=(f.step("x"),)))
    store.create_run(f.run("r2", status=runstate.RunStatus.SUCCEEDED))
    store.create_run(f.run("r3", status=runstate.RunStatus.WAITING))
    assert [r.id for r in store.list_runs()] == ["r3", "r2", "r1"]
    assert [r.id for r in store.list_runs(limit=2)] == ["r3", "r2"]
    assert store.list_runs(kind=runstate.RunKind.RUNBOOK) == [
        f.run("r1", kind=runstate.RunKind.RUNBOOK, steps=(f.step("x"),))
    ]
    assert [r.id for r in store.list_runs(status=runstate.RunStatus.WAITING)] == ["r3"]
    assert store.list_runs(kind=runstate.RunKind.SIMULATION) == []


def test_waiting_runs_are_the_unfinished_ones_with_a_waiting_step_first_created_first(
    store: interfaces.Store,
) -> None:
    waiting, running = runstate.StepStatus.WAITING, runstate.StepStatus.RUNNING
    store.create_run(f.run("r1", steps=(f.step("ask", status=waiting),)))
    store.create_run(f.run("r2", steps=(f.step("build", status=running),)))  # none waits
    finished = f.run("r3", status=runstate.RunStatus.FAILED, finished_at=f.at(9))
    store.create_run(replace(finished, steps=(f.step("ask", status=waiting),)))
    store.create_run(f.run("r4", status=runstate.RunStatus.WAITING))
    store.update_step("r4", f.step("gate", attempt=2, status=waiting))
    store.create_run(f.run("r5", status=runstate.RunStatus.PENDING, steps=(f.step("x"),)))
    store.update_step("r5", f.step("x", attempt=2, status=waiting))
    assert [r.id for r in store.waiting_runs()] == ["r1", "r4", "r5"]
    assert [r.id for r in store.waiting_runs(limit=2)] == ["r1", "r4"]
    [r5] = [r for r in store.waiting_runs() if r.id == "r5"]  # with every step attempt
    assert [(s.name, s.attempt, s.status) for s in r5.steps] == [
        ("x", 1, runstate.StepStatus.SUCCEEDED),
        ("x", 2, waiting),
    ]
    store.update_step("r1", f.step("ask", status=runstate.StepStatus.SUCCEEDED))
    assert [r.id for r in store.waiting_runs()] == ["r4", "r5"]


def test_waiting_runs_are_found_among_many_unfinished_ones(store: interfaces.Store) -> None:
    waiting = (f.step("ask", status=runstate.StepStatus.WAITING),)
    asking = {3, 700, 1100}  # in the first, second and third chunk of ids read
    with store.batch():
        for n in range(1200):
            steps = waiting if n in asking else (f.step("build"),)
            store.create_run(f.run(f"r{n:04d}", steps=steps))
    assert [r.id for r in store.waiting_runs()] == ["r0003", "r0700", "r1100"]
    assert [r.id for r in store.waiting_runs(limit=1)] == ["r0003"]


def test_events_get_growing_ids_and_are_paged_by_id(store: interfaces.Store) -> None:
    appended = [store.append_event(f.event(f"E{i}", seconds=i)) for i in range(5)]
    assert [e.id for e in appended] == sorted({e.id for e in appended if e.id is not None})
    assert replace(appended[0], id=None) == f.event("E0", seconds=0)
    assert store.events() == appended
    assert store.events(since_id=appended[1].id or 0, limit=2) == appended[2:4]
    assert store.events(since_id=appended[4].id or 0) == []


@pytest.mark.parametrize("write", ["status", "decision", "run", "event", "revision"])
def test_a_naive_timestamp_is_refused_and_nothing_is_written(
    store: interfaces.Store, write: str
) -> None:
    naive = datetime(2026, 3, 1, 12, 0)
    with pytest.raises(ValueError) as raised:
        if write == "status":
            store.put_status(f.status("motd", updated_at=naive))
        elif write == "decision":
            store.append_decisions([f.decision(), replace(f.decision(), at=naive)])
        elif write == "run":
            store.create_run(f.run("r1", steps=(f.step("a", started_at=naive),)))
        elif write == "event":
            store.append_event(replace(f.event(), at=naive))
        else:
            store.record_revision("main", replace(f.revision("a"), committed_at=naive))
    assert str(raised.value) == (
        "timestamp 2026-03-01T12:00:00 has no timezone; the store keeps UTC"
    )
    assert (
        store.list_status(),
        store.decisions(),
        store.list_runs(),
        store.events(),
        store.revisions("main"),
    ) == ([], [], [], [], [])


def test_timestamps_in_other_zones_come_back_as_the_same_instant_in_utc(
    store: interfaces.Store,
) -> None:
    from datetime import timedelta, timezone

    local = f.at(0).astimezone(timezone(timedelta(hours=2)))
    store.append_event(replace(f.event(), at=local))
    (stored,) = store.events()
    assert stored.at == local and stored.at.utcoffset() == timedelta(0)


def test_a_closed_store_refuses_calls(store: interfaces.Store) -> None:
    store.close()
    with pytest.raises(interfaces.StoreError):
        store.events()


def test_put_statuses_writes_many_in_one_call_like_put_status(
    open_store: Callable[..., interfaces.Store],
) -> None:
    from reconciler.store.retention import RetentionSettings

    store = open_store(RetentionSettings(history_per_object=2))
    store.put_status(f.status("a", ready=False))
    newer_a = f.status("a", ready=True, observed_generation=5, history=4)
    later_b = f.status("b", ready=False, updated_at=f.at(70))
    written = store.put_statuses([f.status("b", ready=True), newer_a, later_b])
    assert written == 2
    assert store.get_status("File//a") == replace(newer_a, history=newer_a.history[-2:])
    assert store.get_status("File//b") == later_b
    assert [s.name for s in store.list_status(condition="Drifted")] == ["b"]
    assert store.put_statuses([]) == 0
