"""What `diffs.diff` costs per resource, at several rates of difference, against two baselines.

10,000 resource-like documents of about 1 KB, each compared with a copy built separately
(so `==` cannot stop at identity), of which 1%, 10% and 100% differ: in one nested field
(an image bumped, the way a converged fleet drifts), and for every tenth of those also in
replicas and a label (a commit touching several fields). Baselines, measured in the same run
on the same pairs:

- a plain diff producing the same list of differing paths: `==` on the whole pair, and
  for a pair that differs a recursive walk (the same work: the main `ratio`);
- `==` alone, which only says whether a pair differs (a floor, not the same work).

Ratios are ours / baseline, lower is better; each figure is the best of 5.
Run: `python benchmarks/diff.py [--quick]`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

import timing

from reconciler.plan import diffs

COUNT = 10_000
RATES = (0.01, 0.10, 1.0)
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


def pairs(count: int, rate: float) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """`count` (desired, observed) pairs, a `rate` share of them different."""
    out = []
    every = round(1 / rate)
    for index in range(count):
        desired = resource(index)
        observed = json.loads(json.dumps(desired))
        if index % every == 0:
            observed["spec"]["template"]["spec"]["containers"][0]["image"] += "-old"
            if index % (every * 10) == 0:
                observed["spec"]["replicas"] += 1
                observed["metadata"]["labels"]["tier"] = "api"
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


def plain_diff(old: Any, new: Any) -> list[Any]:
    """The baseline: whole-pair `==`, then the recursive walk where the pair differs."""
    return [] if old == new else plain_recursive(old, new)


def per_resource_us(compare: Callable[[Any, Any], object], work: list[tuple[Any, Any]]) -> float:
    def run() -> None:
        for desired, observed in work:
            compare(observed, desired)

    return timing.best_of(REPEATS, run)[0] / len(work) * 1e6


def at_rate(count: int, rate: float) -> None:
    work = pairs(count, rate)
    changed = sum(1 for desired, observed in work if diffs.diff(observed, desired))
    found = sum(1 for desired, observed in work if plain_diff(observed, desired))
    assert changed == found, (changed, found)
    project = per_resource_us(diffs.diff, work)
    plain = per_resource_us(plain_diff, work)
    equal = per_resource_us(lambda a, b: a == b, work)
    print(
        f"{rate:4.0%} differ ({changed} of {len(work)}): diffs.diff {project:.2f} us/resource, "
        f"plain diff {plain:.2f}, == {equal:.2f}"
    )
    timing.ratio(f"{rate:.0%} diffs.diff", project, plain, against="plain == + recursive diff")
    timing.ratio(f"{rate:.0%} diffs.diff vs ==", project, equal, against="== (a floor)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 resources")
    count = 500 if parser.parse_args().quick else COUNT
    size = sum(len(json.dumps(resource(i))) for i in range(100)) / 100
    print(f"{count} resources of about {size:.0f} bytes as JSON; best of {REPEATS}")
    for rate in RATES:
        at_rate(count, rate)


if __name__ == "__main__":
    main()
