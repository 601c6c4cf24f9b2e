"""How fast a recorded decision log replays under new policies, beside plain evaluation.

Logs N (default 100 000) decisions into a real SQLite store: 20 000 generated Deployments
x 5 bound policies, each decision with its input kept by digest (`Store.put_inputs`),
every input distinct (so replay's per-input cache gives it nothing). The head bundle
tightens one binding's parameters, so some decisions flip. Prints, best of three:

- replay: `replay.replay_log` with 2 processes (reading the log and the inputs from the
  store included), then with 1 process, then reading the store alone;
- baseline: the project's `Evaluator` deciding the same resources under the same head
  bundle (no store), in decisions/s, and the ratio.

The `ratio` is replay time / the Evaluator's time for the same decisions, lower is better.
Run: `python benchmarks/replay.py [N] [--quick]`. Target: replay >= 20 000 decisions/s.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from types import MappingProxyType
from typing import Any

import timing
from timing import best_of

from reconciler.clock import ManualClock
from reconciler.policy import bundle as bundles
from reconciler.policy.evaluate import Evaluator, canonical
from reconciler.simulate import replay
from reconciler.specs import models
from reconciler.specs.models import InputFormat
from reconciler.specs.snapshot import Document, RegoFile, Snapshot
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore

POLICIES = {
    "bench.labels": """import rego.v1
deny contains msg if {
  some label in input.parameters.labels
  not input.resource.metadata.labels[label]
  msg := sprintf("missing label %s", [label])
}""",
    "bench.replicas": """import rego.v1
deny contains msg if {
  input.resource.spec.replicas > input.parameters.max
  msg := sprintf("%d replicas, at most %d", [input.resource.spec.replicas, input.parameters.max])
}""",
    "bench.images": """import rego.v1
deny contains msg if {
  some c in input.resource.spec.template.spec.containers
  endswith(c.image, ":latest")
  msg := sprintf("%s uses latest", [c.name])
}""",
    "bench.privileged": """import rego.v1
deny contains msg if {
  some c in input.spec.template.spec.containers
  c.securityContext.privileged
  msg := sprintf("%s is privileged", [c.name])
}""",
    "bench.limits": """import rego.v1
warn contains msg if {
  some c in input.resource.spec.template.spec.containers
  not c.resources.limits.memory
  msg := sprintf("%s has no memory limit", [c.name])
}""",
}
BINDINGS = {
    "labels": ("bench.labels", "reconciler", {"labels": ["owner", "team"]}),
    "replicas": ("bench.replicas", "reconciler", {"max": 8}),
    "images": ("bench.images", "reconciler", {}),
    "privileged": ("bench.privileged", "conftest", {}),
    "limits": ("bench.limits", "reconciler", {"kind": "memory"}),
}


def deployment(i: int) -> Document:
    labels = {"app": f"app-{i}", "owner": "team"} | ({"team": "a"} if i % 7 else {})
    container: dict[str, Any] = {
        "name": "web",
        "image": f"registry/app-{i}:" + ("latest" if i % 11 == 0 else f"1.{i}"),
    }
    if i % 5:
        container["resources"] = {"limits": {"memory": "256Mi"}}
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"app-{i}", "namespace": f"ns-{i % 20}", "labels": labels},
        "spec": {"replicas": i % 10, "template": {"spec": {"containers": [container]}}},
    }
    return Document(
        path=f"resources/app-{i}.yaml",
        line=1,
        index=0,
        api_version="apps/v1",
        kind="Deployment",
        name=f"app-{i}",
        namespace=f"ns-{i % 20}",
        labels=MappingProxyType(labels),
        body=body,
    )


def compiled(max_replicas: int) -> bundles.Bundle:
    bound = []
    for name, (policy, fmt, params) in BINDINGS.items():
        if name == "replicas":
            params = {"max": max_replicas}
        body = {
            "apiVersion": "reconciler.dev/v1",
            "kind": "PolicyBinding",
            "metadata": {"name": name},
            "spec": {
                "policy": policy,
                "input": fmt,
                "parameters": params,
                "scope": {"kinds": ["Deployment"]},
            },
        }
        doc = Document(
            path="policies/b.yaml",
            line=1,
            index=0,
            api_version="reconciler.dev/v1",
            kind="PolicyBinding",
            name=name,
            namespace=None,
            labels=MappingProxyType({}),
            body=body,
        )
        bound.append((doc, models.PolicyBinding.model_validate(body)))
    rego = tuple(
        RegoFile(path=f"policies/{pkg}.rego", text=f"package {pkg}\n{text}\n")
        for pkg, text in POLICIES.items()
    )
    return bundles.compile(
        Snapshot(
            revision=None, settings=models.default_settings(), bindings=tuple(bound), rego=rego
        )
    )


def record(store: SqliteStore, docs: list[Document], bundle: bundles.Bundle) -> int:
    clock = ManualClock()
    evaluator = Evaluator(bundle, clock=clock, revision="a" * 40)
    specs = {d.name: b.spec for d, b in bundle.bindings}
    logged = 0
    for start in range(0, len(docs), 2_000):
        decisions, inputs = [], {}
        for doc in docs[start : start + 2_000]:
            for d in evaluator.evaluate(doc):
                spec = specs[d.binding]
                inputs[d.input_digest] = (
                    canonical(doc.body)
                    if spec.input is (InputFormat.CONFTEST)
                    else canonical(
                        {
                            "change": None,
                            "observed": None,
                            "parameters": spec.parameters,
                            "resource": doc.body,
                            "revision": "a" * 40,
                        }
                    )
                )
                decisions.append(d)
        store.put_inputs(inputs)
        logged += store.append_decisions(decisions)
    return logged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, nargs="?", default=100_000)
    parser.add_argument("--quick", action="store_true", help="1,000 decisions")
    args = parser.parse_args()
    count = 1_000 if args.quick else args.count
    docs = [deployment(i) for i in range(count // len(BINDINGS))]
    head = compiled(max_replicas=5)
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(
            Path(tmp) / "reconciler.db", retention=RetentionSettings(max_decisions=count * 2)
        )
        logged = record(store, docs, compiled(max_replicas=8))

        store.close()
        path = Path(tmp) / "reconciler.db"

        def read() -> int:
            reader = SqliteStore(path, retention=RetentionSettings())
            n = sum(1 for _, text in reader.iter_decisions_with_inputs(batch=5000) if text)
            reader.close()
            return n

        replay_time, section = best_of(
            3, lambda: replay.replay_log(path, head, clock=ManualClock())
        )
        one_time, _ = best_of(
            3, lambda: replay.replay_log(path, head, clock=ManualClock(), workers=1)
        )
        read_time, _ = best_of(3, read)

    def plain() -> int:
        evaluator = Evaluator(head, clock=ManualClock(), revision=None)
        return sum(len(evaluator.evaluate(doc)) for doc in docs)

    plain_time, decided = best_of(3, plain)
    flips = ", ".join(f"{f.binding} {f.direction} {f.count}" for f in section.flips)
    print(f"{logged} logged decisions, {section.replayed} replayed, flips: {flips}")
    rate = section.replayed / replay_time
    print(
        f"replay    (store included)   {replay_time:6.2f} s  {rate:9,.0f} decisions/s"
        f"  target >= 20,000: {'met' if rate >= 20_000 else 'NOT met'}"
    )
    print(
        f"  in one process             {one_time:6.2f} s  {section.replayed / one_time:9,.0f}"
        " decisions/s"
    )
    print(f"  reading the store alone    {read_time:6.2f} s (one process)")
    print(
        f"baseline  Evaluator          {plain_time:6.2f} s  {decided / plain_time:9,.0f} "
        "decisions/s"
    )
    timing.ratio("replay", replay_time, plain_time, against="Evaluator on the same decisions")


if __name__ == "__main__":
    main()
