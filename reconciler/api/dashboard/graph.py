"""The run page's pictures: the DAG of steps laid out in columns, and a timeline of attempts.

A run's steps come as the API shows them (`views.run`); the dependencies come from an
optional `dag` in that record (`{"step": ["dependency", ...]}` or `[{"name", "dependsOn"}]`).
Without one (reconcile runs, whose steps are objects), the steps stand in one column in the
order they were first written. Layout is plain arithmetic in SVG units; the template only
draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 180, 36, 60, 16, 10


@dataclass(frozen=True, kw_only=True)
class Node:
    name: str
    status: str
    x: int
    y: int


@dataclass(frozen=True, kw_only=True)
class Edge:
    x1: int
    y1: int
    x2: int
    y2: int


@dataclass(frozen=True, kw_only=True)
class Graph:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    width: int
    height: int


@dataclass(frozen=True, kw_only=True)
class Bar:
    name: str
    attempt: int
    status: str
    left: float  # percent of the run's span
    width: float
    label: str


def dependencies(dag: Any) -> dict[str, list[str]]:
    if isinstance(dag, dict):
        return {str(k): [str(d) for d in v or []] for k, v in dag.items()}
    if isinstance(dag, list):
        return {
            str(i["name"]): [str(d) for d in i.get("dependsOn") or []]
            for i in dag
            if isinstance(i, dict) and "name" in i
        }
    return {}


def latest(steps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each step's newest attempt, in the order the steps were first written."""
    found: dict[str, dict[str, Any]] = {}
    for step in steps:
        if step["name"] not in found or step["attempt"] >= found[step["name"]]["attempt"]:
            found[step["name"]] = step
    return found


def levels(names: list[str], deps: dict[str, list[str]]) -> dict[str, int]:
    """Column of each step: one past its deepest dependency (cycles are cut)."""
    level: dict[str, int] = {}

    def depth(name: str, seen: frozenset[str]) -> int:
        if name not in level:
            parents = [d for d in deps.get(name, []) if d not in seen]
            level[name] = 1 + max((depth(p, seen | {name}) for p in parents), default=-1)
        return level[name]

    for name in names:
        depth(name, frozenset())
    return level


def layout(run: dict[str, Any]) -> Graph:
    steps = latest(run.get("steps") or [])
    deps = dependencies(run.get("dag"))
    names = list(steps) + [n for n in deps if n not in steps]
    level = levels(names, deps) if deps else {n: 0 for n in names}
    rows: dict[int, int] = {}
    nodes: dict[str, Node] = {}
    for name in names:
        col = level[name]
        row = rows[col] = rows.get(col, -1) + 1
        status = steps[name]["status"] if name in steps else "pending"
        nodes[name] = Node(
            name=name, status=status, x=PAD + col * (NODE_W + GAP_X), y=PAD + row * (NODE_H + GAP_Y)
        )
    edges = [
        Edge(
            x1=nodes[d].x + NODE_W,
            y1=nodes[d].y + NODE_H // 2,
            x2=nodes[n].x,
            y2=nodes[n].y + NODE_H // 2,
        )
        for n, ds in deps.items()
        for d in ds
        if n in nodes and d in nodes
    ]
    width = PAD * 2 + (max(level.values(), default=0) + 1) * (NODE_W + GAP_X) - GAP_X
    height = PAD * 2 + max(rows.values(), default=0) * (NODE_H + GAP_Y) + NODE_H
    return Graph(nodes=tuple(nodes.values()), edges=tuple(edges), width=width, height=height)


def timeline(run: dict[str, Any], *, now: datetime) -> list[Bar]:
    """One bar per attempt that started, placed on the span from first start to last end."""
    spans = []
    for step in run.get("steps") or []:
        if not step.get("started_at"):
            continue
        start = datetime.fromisoformat(step["started_at"])
        end = datetime.fromisoformat(step["finished_at"]) if step.get("finished_at") else now
        spans.append((step, start, max(end, start)))
    if not spans:
        return []
    first = min(s for _, s, _ in spans)
    total = max((e - first).total_seconds() for _, _, e in spans) or 1.0
    return [
        Bar(
            name=step["name"],
            attempt=step["attempt"],
            status=step["status"],
            left=round(100 * (start - first).total_seconds() / total, 2),
            width=max(round(100 * (end - start).total_seconds() / total, 2), 0.5),
            label=f"{(end - start).total_seconds():.2f} s",
        )
        for step, start, end in spans
    ]
