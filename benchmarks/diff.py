"""What `diffs.diff` costs per resource against a plain `==` over the same pairs.

10,000 resource-like documents of about 1 KB, each compared with an equal copy (built
separately, so `==` cannot stop at identity), 1% of them changed in one nested field, the
way a reconcile pass sees a mostly converged fleet. A recursive diff without the `==`
check at each level is timed too, for reference. Run: `python benchmarks/diff.py`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from reconciler.plan import diffs

COUNT = 10_000
CHANGED_EVERY = 100  # 1%
REPEATS = 5


def resource(index: int) -> dict[str, Any]:
    name = f"web-{index:05d}"
    labels = {"app": name, "team": f"team-{index % 17}", "tier": "web", "env": "prod"}
    container = {
        "name": "web",
        "image": f"registry.example.com/web:{index % 7}.2.{index % 13}",
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "REGION", "value": "eu-1"}],
        "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "100m"}},
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10},
    }
    sidecar = {"name": "log", "image": "registry.example.com/log:1.4", "args": ["--json"]}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": f"ns-{index % 11}",
            "labels": labels,
            "annotations": {"reconciler.dev/wave": "0", "owner": "platform@example.com"},
        },
        "spec": {
            "replicas": 1 + index % 4,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [container, sidecar], "serviceAccountName": "web"},
            },
        },
    }


def pairs() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    out = []
    for index in range(COUNT):
        desired = resource(index)
        observed = json.loads(json.dumps(desired))
        if index % CHANGED_EVERY == 0:
            observed["spec"]["template"]["spec"]["containers"][0]["image"] += "-old"
        out.append((desired, observed))
    return out


def plain_recursive(old: Any, new: Any, path: tuple[Any, ...] = ()) -> list[Any]:
    """A recursive diff that does not compare with `==` before descending."""
    if isinstance(old, dict) and isinstance(new, dict):
        found: list[Any] = []
        for key in old.keys() | new.keys():
            if key in old and key in new:
                found += plain_recursive(old[key], new[key], (*path, key))
            else:
                found.append((*path, key))
        return found
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            item
            for i, (a, b) in enumerate(zip(old, new, strict=True))
            for item in plain_recursive(a, b, (*path, i))
        ]
    return [] if old == new else [path]


def per_resource_us(compare: Callable[[Any, Any], object], work: list[tuple[Any, Any]]) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        for desired, observed in work:
            compare(observed, desired)
        best = min(best, time.perf_counter() - start)
    return best / len(work) * 1e6


def main() -> None:
    work = pairs()
    size = sum(len(json.dumps(desired)) for desired, _ in work) / len(work)
    changed = sum(1 for desired, observed in work if diffs.diff(observed, desired))
    print(f"{len(work)} resources, {size:.0f} bytes each as JSON, {changed} changed")
    equal = per_resource_us(lambda a, b: a == b, work)
    project = per_resource_us(diffs.diff, work)
    recursive = per_resource_us(plain_recursive, work)
    print(f"diffs.diff: {project:.2f} us/resource")
    print(f"==: {equal:.2f} us/resource (baseline)")
    print(f"plain recursive diff: {recursive:.2f} us/resource (reference)")
    print(f"ratio diffs.diff / ==: {project / equal:.2f}")


if __name__ == "__main__":
    main()
