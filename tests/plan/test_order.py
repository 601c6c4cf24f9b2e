"""Run order: waves, dependencies, cycles, and deletes in reverse."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from reconciler import errors
from reconciler.plan import order
from reconciler.specs import snapshot


def body(name: str, *, wave: str | None = None, depends_on: str | None = None) -> dict[str, Any]:
    annotations = {}
    if wave is not None:
        annotations[order.WAVE] = wave
    if depends_on is not None:
        annotations[order.DEPENDS_ON] = depends_on
    return {"kind": "File", "metadata": {"name": name, "annotations": annotations}, "spec": {}}


def run_order(bodies: dict[str, dict[str, Any]]) -> tuple[str, ...]:
    return order.ordered({key: order.placement(key=key, body=b) for key, b in bodies.items()})


@pytest.mark.parametrize(
    ("bodies", "expected"),
    [
        ({"File//b": body("b"), "File//a": body("a")}, ("File//a", "File//b")),
        (
            {"File//a": body("a"), "File//b": body("b", wave="-1"), "File//c": body("c", wave="2")},
            ("File//b", "File//a", "File//c"),
        ),
        (
            {
                "File//a": body("a", depends_on="File//c"),
                "File//b": body("b"),
                "File//c": body("c"),
            },
            ("File//b", "File//c", "File//a"),
        ),
        (
            {
                "File//a": body("a", depends_on="File//b, File//c"),
                "File//b": body("b", depends_on="File//c"),
                "File//c": body("c"),
                "File//z": body("z", wave="-5"),
            },
            ("File//z", "File//c", "File//b", "File//a"),
        ),
        (
            {
                "File//a": body("a", wave="1", depends_on="File//b"),
                "File//b": body("b", wave=" 0 "),
            },
            ("File//b", "File//a"),
        ),
    ],
    ids=["by key", "waves", "dependency first", "chain within waves", "dependency in earlier wave"],
)
def test_ordered(bodies: dict[str, dict[str, Any]], expected: tuple[str, ...]) -> None:
    assert run_order(bodies) == expected


def test_cycle_names_the_cycle() -> None:
    bodies = {
        "File//b": body("b", depends_on="File//a"),
        "File//a": body("a", depends_on="File//b"),
        "File//c": body("c"),
    }
    with pytest.raises(order.DependencyCycleError) as caught:
        run_order(bodies)
    assert str(caught.value) == "dependency cycle: File//a -> File//b -> File//a"
    assert caught.value.cycle == ("File//a", "File//b", "File//a")
    assert isinstance(caught.value, errors.StalledError)


def test_longer_cycle_follows_the_dependency_arrows() -> None:
    bodies = {
        "File//a": body("a", depends_on="File//c"),
        "File//b": body("b", depends_on="File//a"),
        "File//c": body("c", depends_on="File//b"),
    }
    with pytest.raises(order.DependencyCycleError) as caught:
        run_order(bodies)
    assert str(caught.value) == "dependency cycle: File//a -> File//c -> File//b -> File//a"


def test_self_dependency_is_a_cycle() -> None:
    with pytest.raises(order.DependencyCycleError) as caught:
        run_order({"File//a": body("a", depends_on="File//a")})
    assert str(caught.value) == "dependency cycle: File//a -> File//a"


@pytest.mark.parametrize(
    ("bodies", "message"),
    [
        (
            {"File//a": body("a", depends_on="File//gone")},
            'File//a metadata.annotations["reconciler.dev/depends-on"]: '
            "depends on File//gone, which is not in the desired state",
        ),
        (
            {"File//a": body("a", depends_on="File/a")},
            'File//a metadata.annotations["reconciler.dev/depends-on"]: '
            '\'File/a\' is not a key like "Kind/namespace/name" or "Kind//name"',
        ),
        (
            {"File//a": body("a", depends_on="/ns/a")},
            'File//a metadata.annotations["reconciler.dev/depends-on"]: '
            '\'/ns/a\' is not a key like "Kind/namespace/name" or "Kind//name"',
        ),
        (
            {"File//a": body("a", wave="first")},
            'File//a metadata.annotations["reconciler.dev/wave"]: '
            "must be an integer like \"-1\", not 'first'",
        ),
        (
            {"File//a": body("a", depends_on="File//b"), "File//b": body("b", wave="1")},
            'File//a metadata.annotations["reconciler.dev/depends-on"]: '
            "depends on File//b (wave 1), which runs after this object's wave 0",
        ),
    ],
    ids=["missing", "short key", "no kind", "bad wave", "later wave"],
)
def test_bad_annotations(bodies: dict[str, dict[str, Any]], message: str) -> None:
    with pytest.raises(order.DependencyError) as caught:
        run_order(bodies)
    assert str(caught.value) == message


def test_dependency_error_as_a_problem_in_its_file() -> None:
    error = order.DependencyError("must be an integer", key="File//a", field="metadata.x")
    document = snapshot.Document(
        path="resources/files.yaml",
        line=12,
        index=1,
        api_version="reconciler.dev/v1",
        kind="File",
        name="a",
        namespace=None,
        labels=MappingProxyType({}),
        body={},
    )
    assert str(error.problem(document)) == "resources/files.yaml:12 metadata.x: must be an integer"


def test_placement_defaults() -> None:
    assert order.placement(key="File//a", body={"kind": "File"}) == order.Placement()
    assert order.placement(key="File//a", body=None) == order.Placement()


def test_deletion_order_is_the_reverse_of_apply_order() -> None:
    bodies = {
        "File//a": body("a", depends_on="File//b"),
        "File//b": body("b", wave="-1"),
        "File//c": body("c", wave="3"),
    }
    assert order.deletion_order(bodies) == ("File//c", "File//a", "File//b")


def test_deletion_order_ignores_broken_annotations_and_staying_objects() -> None:
    bodies: dict[str, dict[str, Any] | None] = {
        "File//a": body("a", wave="x", depends_on="File//kept"),
        "File//b": body("b", wave="1"),
        "File//c": None,
    }
    assert order.deletion_order(bodies) == ("File//b", "File//c", "File//a")


def test_deletion_order_survives_a_cycle() -> None:
    bodies = {
        "File//a": body("a", depends_on="File//b"),
        "File//b": body("b", depends_on="File//a"),
        "File//c": body("c", wave="-1"),
    }
    assert order.deletion_order(bodies) == ("File//b", "File//a", "File//c")
