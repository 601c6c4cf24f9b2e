"""The planner: actions, inventory and pruning, order, and that a plan converges."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.plan import diffs, ignore, order, planner

Action = planner.Action


def file(name: str, content: str = "hi\n", **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "reconciler.dev/v1",
        "kind": "File",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"path": f"/tmp/{name}", "content": content},
    }


def observed_as(desired: dict[str, Any]) -> dict[str, Any]:
    """What the file provider reports for an applied `desired`: its own fields added."""
    observed = copy.deepcopy(desired)
    observed["metadata"]["uid"] = "u-" + desired["metadata"]["name"]
    observed["spec"]["mode"] = "0644"
    observed["status"] = {"size": len(desired["spec"]["content"])}
    return observed


def actions(plan: planner.Plan) -> list[tuple[str, Action]]:
    return [(change.key, change.action) for change in plan.changes]


def test_create_update_noop() -> None:
    desired = {"File//new": file("new"), "File//same": file("same"), "File//drift": file("drift")}
    drifted = observed_as(file("drift", "edited by hand\n"))
    observed = {"File//same": observed_as(file("same")), "File//drift": drifted}
    plan = planner.plan(desired=desired, observed=observed, inventory=set(), prune=False)
    assert actions(plan) == [
        ("File//drift", Action.UPDATE),
        ("File//new", Action.CREATE),
        ("File//same", Action.NOOP),
    ]
    update = plan.changes[0]
    assert [str(item) for item in update.diff] == ["~ spec.content: 'edited by hand\\n' -> 'hi\\n'"]
    assert (update.kind, update.desired, update.observed) == (
        "File",
        desired["File//drift"],
        drifted,
    )
    assert plan.counts() == {Action.CREATE: 1, Action.UPDATE: 1, Action.DELETE: 0, Action.NOOP: 1}
    assert plan.summary() == "1 to create, 1 to update, 0 to delete, 1 unchanged"
    assert [c.key for c in plan.pending] == ["File//drift", "File//new"]
    assert plan.by_action(Action.NOOP) == (plan.changes[2],)
    assert not plan.converged


def test_create_diff_adds_the_desired_document_without_managed_fields() -> None:
    desired = file("a") | {"status": {"x": 1}}
    plan = planner.plan(desired={"File//a": desired}, observed={}, inventory=set(), prune=False)
    (change,) = plan.changes
    assert diffs.apply({}, change.diff) == file("a")
    assert change.as_json()["action"] == "create"
    assert change.as_json()["diff"][0] == {
        "op": "add",
        "path": "apiVersion",
        "old": None,
        "new": "reconciler.dev/v1",
    }


@pytest.mark.parametrize(
    ("prune", "expected_actions", "orphans"),
    [
        (True, [("File//kept", Action.NOOP), ("File//old", Action.DELETE)], ()),
        (False, [("File//kept", Action.NOOP)], ("File//old",)),
    ],
)
def test_only_inventory_objects_are_deleted_and_only_when_pruning(
    prune: bool, expected_actions: list[tuple[str, Action]], orphans: tuple[str, ...]
) -> None:
    observed: dict[str, dict[str, Any] | None] = {
        "File//kept": observed_as(file("kept")),
        "File//old": observed_as(file("old")),
        "File//foreign": observed_as(file("foreign")),
        "File//already-gone": None,
    }
    plan = planner.plan(
        desired={"File//kept": file("kept")},
        observed=observed,
        inventory={"File//kept", "File//old", "File//already-gone"},
        prune=prune,
    )
    assert actions(plan) == expected_actions
    assert plan.orphans == orphans


def test_changes_run_by_wave_and_dependency_and_deletes_last_in_reverse() -> None:
    desired = {
        "File//app": file("app", **{order.DEPENDS_ON: "File//config"}),
        "File//config": file("config"),
        "File//ns": file("ns", **{order.WAVE: "-1"}),
    }
    stale = {
        "File//old-ns": observed_as(file("old-ns", **{order.WAVE: "-1"})),
        "File//old-app": observed_as(file("old-app", **{order.DEPENDS_ON: "File//old-cfg"})),
        "File//old-cfg": observed_as(file("old-cfg")),
    }
    plan = planner.plan(desired=desired, observed=stale, inventory=set(stale), prune=True)
    assert [(c.key, c.action, c.wave) for c in plan.changes] == [
        ("File//ns", Action.CREATE, -1),
        ("File//config", Action.CREATE, 0),
        ("File//app", Action.CREATE, 0),
        ("File//old-app", Action.DELETE, 0),
        ("File//old-cfg", Action.DELETE, 0),
        ("File//old-ns", Action.DELETE, -1),
    ]


def test_a_cycle_stops_the_plan() -> None:
    desired = {
        "File//a": file("a", **{order.DEPENDS_ON: "File//b"}),
        "File//b": file("b", **{order.DEPENDS_ON: "File//a"}),
    }
    with pytest.raises(order.DependencyCycleError) as caught:
        planner.plan(desired=desired, observed={}, inventory=set(), prune=False)
    assert str(caught.value) == "dependency cycle: File//a -> File//b -> File//a"


def test_ignore_rules_turn_an_update_into_a_noop() -> None:
    observed = observed_as(file("a", "changed\n"))
    rule = ignore.IgnoreRule(kind="File", paths=("/spec/content",))
    plan = planner.plan(
        desired={"File//a": file("a")},
        observed={"File//a": observed},
        inventory=set(),
        prune=False,
        rules=(rule,),
    )
    assert actions(plan) == [("File//a", Action.NOOP)]
    assert plan.converged


_keys = st.sampled_from(["a", "b", "name", "mode", "image"])
_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-2, 2)
    | st.text(max_size=2)
    | st.lists(
        st.fixed_dictionaries({"name": st.sampled_from("pqr")}, optional={"v": st.integers(0, 2)}),
        max_size=3,
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
    max_leaves=12,
)
_specs = st.dictionaries(_keys, _values, max_size=4)


def _desired(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "File", "metadata": {"name": name}, "spec": spec}


def _observed(name: str, spec: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    """As a provider reports it: its own id and status besides the (drifted) spec."""
    return {"kind": "File", "metadata": {"name": name, "uid": "u1"}, "spec": spec, "status": status}


@settings(max_examples=200)
@given(
    desired_specs=st.dictionaries(st.sampled_from("abcd"), _specs, max_size=3),
    observed_specs=st.dictionaries(st.sampled_from("abcd"), _specs, max_size=4),
    status=st.dictionaries(_keys, _values, max_size=2),
    ignored=st.sampled_from([(), ("/spec/a",), ("spec.b[*]",)]),
)
def test_applying_each_change_reaches_the_desired_state(
    desired_specs: dict[str, dict[str, Any]],
    observed_specs: dict[str, dict[str, Any]],
    status: dict[str, Any],
    ignored: tuple[str, ...],
) -> None:
    rules = (ignore.IgnoreRule(kind="File", paths=ignored),)
    desired = {f"File//{n}": _desired(n, spec) for n, spec in desired_specs.items()}
    observed = {f"File//{n}": _observed(n, spec, status) for n, spec in observed_specs.items()}
    plan = planner.plan(
        desired=desired, observed=observed, inventory=set(observed), prune=True, rules=rules
    )
    for change in plan.changes:
        if change.action is Action.DELETE:
            assert change.key not in desired
            continue
        after = diffs.apply(change.observed or {}, change.diff)
        want, have = ignore.normalise(desired[change.key], after, rules=rules)
        assert diffs.diff(have, want) == ()
    assert {c.key for c in plan.changes} == set(desired) | set(observed)
