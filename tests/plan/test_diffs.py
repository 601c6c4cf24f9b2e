"""Field-level diffs: table of cases, rendering, applying, and the properties that bind them."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler import errors
from reconciler.plan import diffs

Op = diffs.Op
Item = diffs.DiffItem
Name = diffs.Name

CASES: list[tuple[str, Any, Any, tuple[diffs.DiffItem, ...]]] = [
    ("equal scalars", 1, 1, ()),
    ("scalar replaced", "a", "b", (Item(op=Op.REPLACE, path=(), old="a", new="b"),)),
    (
        "nested key replaced",
        {"spec": {"replicas": 1, "image": "x"}},
        {"spec": {"replicas": 2, "image": "x"}},
        (Item(op=Op.REPLACE, path=("spec", "replicas"), old=1, new=2),),
    ),
    (
        "keys added and removed, sorted by key",
        {"b": 1, "c": 3},
        {"a": 0, "b": 1},
        (Item(op=Op.ADD, path=("a",), new=0), Item(op=Op.REMOVE, path=("c",), old=3)),
    ),
    (
        "type change replaces the whole value",
        {"x": {"a": 1}},
        {"x": [1]},
        (Item(op=Op.REPLACE, path=("x",), old={"a": 1}, new=[1]),),
    ),
    (
        "list by index: item changed, items appended",
        {"l": [1, 2]},
        {"l": [1, 3, 4, 5]},
        (
            Item(op=Op.REPLACE, path=("l", 1), old=2, new=3),
            Item(op=Op.ADD, path=("l", 2), new=4),
            Item(op=Op.ADD, path=("l", 3), new=5),
        ),
    ),
    (
        "list by index: items removed from the end, highest first",
        [1, 2, 3],
        [1],
        (Item(op=Op.REMOVE, path=(2,), old=3), Item(op=Op.REMOVE, path=(1,), old=2)),
    ),
    (
        "named list: change inside an item by name",
        {"containers": [{"name": "web", "image": "a"}, {"name": "log", "image": "b"}]},
        {"containers": [{"name": "web", "image": "a2"}, {"name": "log", "image": "b"}]},
        (Item(op=Op.REPLACE, path=("containers", Name("web"), "image"), old="a", new="a2"),),
    ),
    (
        "named list: removed by name, added at its new index",
        [{"name": "a"}, {"name": "b", "v": 1}, {"name": "c"}],
        [{"name": "x"}, {"name": "b", "v": 2}, {"name": "c"}],
        (
            Item(op=Op.REMOVE, path=(Name("a"),), old={"name": "a"}),
            Item(op=Op.REPLACE, path=(Name("b"), "v"), old=1, new=2),
            Item(op=Op.ADD, path=(0,), new={"name": "x"}),
        ),
    ),
    (
        "named list reordered: compared by index",
        [{"name": "a"}, {"name": "b"}],
        [{"name": "b"}, {"name": "a"}],
        (
            Item(op=Op.REPLACE, path=(0, "name"), old="a", new="b"),
            Item(op=Op.REPLACE, path=(1, "name"), old="b", new="a"),
        ),
    ),
    (
        "duplicate names: compared by index",
        [{"name": "a", "v": 1}, {"name": "a", "v": 2}],
        [{"name": "a", "v": 1}, {"name": "a", "v": 3}],
        (Item(op=Op.REPLACE, path=(1, "v"), old=2, new=3),),
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_diff(old: Any, new: Any, expected: tuple[diffs.DiffItem, ...]) -> None:
    assert diffs.diff(old, new) == expected
    assert diffs.apply(old, expected) == new


def test_named_path_parts_are_names() -> None:
    (item,) = diffs.diff([{"name": "web", "v": 1}], [{"name": "web", "v": 2}])
    assert [type(part) for part in item.path] == [Name, str]


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (("spec", "containers", 0, "image"), "spec.containers[0].image"),
        (("spec", "containers", Name("web"), "image"), "spec.containers[name=web].image"),
        (
            ("metadata", "annotations", "reconciler.dev/wave"),
            'metadata.annotations["reconciler.dev/wave"]',
        ),
        ((0, "a"), "[0].a"),
        ((), ""),
    ],
)
def test_render(path: diffs.Path, text: str) -> None:
    assert diffs.render(path) == text


def test_item_text_and_json() -> None:
    items = diffs.diff({"a": 1, "b": [1]}, {"b": [1, 2], "c": "x"})
    assert [str(item) for item in items] == ["- a: 1", "+ b[1]: 2", "+ c: 'x'"]
    replace = Item(op=Op.REPLACE, path=("spec", "x"), old=1, new=2)
    assert str(replace) == "~ spec.x: 1 -> 2"
    assert replace.as_json() == {"op": "replace", "path": "spec.x", "old": 1, "new": 2}


def test_apply_leaves_observed_unchanged_and_keeps_unmentioned_keys() -> None:
    observed = {"spec": {"a": 1, "defaulted": True, "l": [{"name": "x", "v": 1}]}}
    before = copy.deepcopy(observed)
    items = (
        Item(op=Op.REPLACE, path=("spec", "a"), old=1, new=2),
        Item(op=Op.REPLACE, path=("spec", "l", Name("x"), "v"), old=1, new=5),
    )
    result = diffs.apply(observed, items)
    assert result == {"spec": {"a": 2, "defaulted": True, "l": [{"name": "x", "v": 5}]}}
    assert observed == before


def test_apply_copies_added_values() -> None:
    value = {"deep": [1]}
    result = diffs.apply({}, (Item(op=Op.ADD, path=("k",), new=value),))
    result["k"]["deep"].append(2)
    assert value == {"deep": [1]}


@pytest.mark.parametrize(
    ("document", "item", "message"),
    [
        ({"a": 1}, Item(op=Op.REPLACE, path=("b",), new=2), "cannot replace b: no 'b' there"),
        ({"a": 1}, Item(op=Op.REMOVE, path=("a", "x")), "cannot remove a.x: parent is a int"),
        (
            {"l": [1]},
            Item(op=Op.ADD, path=("l", 3), new=2),
            "cannot add l[3]: index 3 is out of range",
        ),
        (
            {"l": [{"name": "a"}]},
            Item(op=Op.REPLACE, path=("l", Name("b"), "v"), new=2),
            "cannot replace l[name=b].v: no 'b' there",
        ),
    ],
)
def test_apply_conflict(document: Any, item: diffs.DiffItem, message: str) -> None:
    with pytest.raises(diffs.ApplyError) as caught:
        diffs.apply(document, (item,))
    assert str(caught.value) == message
    assert isinstance(caught.value, errors.TransientError)


_keys = st.sampled_from(["a", "b", "name", "spec", "x.y", "0"])
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_nan=False)
    | st.text(max_size=3)
)
_named = st.lists(
    st.fixed_dictionaries(
        {"name": st.sampled_from(["p", "q", "r", "s"])}, optional={"v": st.integers(0, 2)}
    ),
    max_size=4,
)
json_values = st.recursive(
    _scalars | _named,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_diff_of_a_value_with_itself_is_empty(value: Any) -> None:
    assert diffs.diff(value, copy.deepcopy(value)) == ()


@settings(max_examples=300)
@given(json_values, json_values)
def test_applying_the_diff_reaches_the_new_value(old: Any, new: Any) -> None:
    before = copy.deepcopy(old)
    assert diffs.apply(old, diffs.diff(old, new)) == new
    assert old == before
