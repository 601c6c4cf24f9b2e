"""The order in which a plan's changes run: sync waves first, then declared dependencies.

Two annotations in `metadata.annotations` drive it. Annotations rather than a `spec` field,
because they fit every kind, including foreign ones whose `spec` has a fixed schema:

- `reconciler.dev/wave: "-1"`: an integer, default 0; lower waves run first (like Argo CD
  sync waves).
- `reconciler.dev/depends-on: "Kind/ns/name,Kind2//name2"`: comma-separated keys
  (`kind/namespace/name`, namespace empty for cluster-scoped objects) that must be applied
  first. A dependency must be desired too and may not sit in a later wave.

Creates, updates and no-ops (which may be depended on) run in that order, each wave in
turn, ties broken by key. Deletes run after them in the reverse order, read from the
observed objects' annotations; there, a broken annotation or a dependency on an object that
stays is ignored, since the object is going away and Git can no longer fix it.
"""

from __future__ import annotations

import graphlib
import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler import errors
from reconciler.specs import snapshot

WAVE = "reconciler.dev/wave"
DEPENDS_ON = "reconciler.dev/depends-on"


class DependencyError(errors.StalledError, ValueError):
    """An object's ordering annotations are wrong; `key` and `field` say where."""

    def __init__(self, message: str, *, key: str, field: str) -> None:
        super().__init__(f"{key} {field}: {message}")
        self.key = key
        self.field = field
        self.detail = message

    def problem(self, document: snapshot.Document) -> errors.Problem:
        """The error as a user-facing problem in the file `document` came from."""
        return errors.Problem(
            path=document.path, line=document.line, key=self.field, message=self.detail
        )


class DependencyCycleError(errors.StalledError, ValueError):
    """Objects depend on each other in a circle; `cycle` starts and ends with the same key."""

    def __init__(self, cycle: tuple[str, ...]) -> None:
        super().__init__("dependency cycle: " + " -> ".join(cycle))
        self.cycle = cycle


@dataclass(frozen=True, kw_only=True)
class Placement:
    """Where one object runs: its wave and the keys it depends on."""

    wave: int = 0
    depends_on: tuple[str, ...] = ()


def placement(*, key: str, body: Mapping[str, Any] | None) -> Placement:
    """Wave and dependencies from an object's annotations; raises `DependencyError`."""
    metadata = (body or {}).get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    annotations = annotations if isinstance(annotations, dict) else {}
    return Placement(
        wave=_wave(key=key, value=annotations.get(WAVE, "0")),
        depends_on=_depends_on(key=key, value=annotations.get(DEPENDS_ON, "")),
    )


def _field(annotation: str) -> str:
    return f'metadata.annotations["{annotation}"]'


def _wave(*, key: str, value: Any) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        message = f'must be an integer like "-1", not {value!r}'
        raise DependencyError(message, key=key, field=_field(WAVE)) from None


def _depends_on(*, key: str, value: Any) -> tuple[str, ...]:
    keys = tuple(part.strip() for part in str(value).split(",") if part.strip())
    for dependency in keys:
        kind, _, name = (*dependency.split("/"), "", "")[:3]
        if dependency.count("/") != 2 or not kind or not name:
            message = f'{dependency!r} is not a key like "Kind/namespace/name" or "Kind//name"'
            raise DependencyError(message, key=key, field=_field(DEPENDS_ON))
    return keys


def ordered(placements: Mapping[str, Placement]) -> tuple[str, ...]:
    """Keys in run order: lower waves first, dependencies before dependents, then by key."""
    for key, place in placements.items():
        _check_dependencies(key=key, place=place, placements=placements)
    graph = graphlib.TopologicalSorter({k: p.depends_on for k, p in placements.items()})
    try:
        graph.prepare()
    except graphlib.CycleError as error:
        raise DependencyCycleError(_readable_cycle(error.args[1])) from None
    return _drain(graph, placements)


def _check_dependencies(*, key: str, place: Placement, placements: Mapping[str, Placement]) -> None:
    for dependency in place.depends_on:
        if dependency not in placements:
            message = f"depends on {dependency}, which is not in the desired state"
            raise DependencyError(message, key=key, field=_field(DEPENDS_ON))
        if placements[dependency].wave > place.wave:
            message = (
                f"depends on {dependency} (wave {placements[dependency].wave}), "
                f"which runs after this object's wave {place.wave}"
            )
            raise DependencyError(message, key=key, field=_field(DEPENDS_ON))


def _drain(
    graph: graphlib.TopologicalSorter[str], placements: Mapping[str, Placement]
) -> tuple[str, ...]:
    ready: list[tuple[int, str]] = []
    order: list[str] = []
    while graph.is_active():
        for key in graph.get_ready():
            heapq.heappush(ready, (placements[key].wave, key))
        _, key = heapq.heappop(ready)
        order.append(key)
        graph.done(key)
    return tuple(order)


def _readable_cycle(found: Iterable[str]) -> tuple[str, ...]:
    """graphlib lists a cycle against the dependency arrows; turn it and start at the least key."""
    nodes = list(reversed(list(found)))[:-1]
    start = nodes.index(min(nodes))
    nodes = nodes[start:] + nodes[:start]
    return (*nodes, nodes[0])


def deletion_order(bodies: Mapping[str, Mapping[str, Any] | None]) -> tuple[str, ...]:
    """Keys of objects to delete, dependents first: the reverse of their apply order."""
    placements = {key: deletion_placement(key=key, body=body) for key, body in bodies.items()}
    placements = {
        key: Placement(wave=p.wave, depends_on=tuple(d for d in p.depends_on if d in placements))
        for key, p in placements.items()
    }
    try:
        return tuple(reversed(ordered(placements)))
    except errors.StalledError:
        return tuple(sorted(placements, key=lambda k: (placements[k].wave, k), reverse=True))


def deletion_placement(*, key: str, body: Mapping[str, Any] | None) -> Placement:
    """`placement` of an object being deleted; broken annotations count as none."""
    try:
        return placement(key=key, body=body)
    except DependencyError:
        return Placement()
