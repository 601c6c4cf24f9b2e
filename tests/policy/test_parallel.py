"""Evaluating a revision on several processes gives the decisions one process gives, in the
same order: denials, warnings, exceptions, error decisions (a builtin regorus lacks) and
every enforcement; a worker that dies has its chunks evaluated by the caller; a small
revision is evaluated without forking. Real regorus, real forked processes."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from typing import Any

import pytest

from reconciler.clock import ManualClock
from reconciler.policy import bundle, evaluate, parallel
from reconciler.policy.decisions import Outcome
from reconciler.specs.snapshot import Snapshot
from tests.policy.conftest import NO_BUILTINS, make_snapshot
from tests.policy.test_evaluate import CONVENTIONS, HASHES, V0, binding, deployment

CLOCK = ManualClock(datetime(2026, 6, 1, 12, 30, 5, 123456, tzinfo=UTC))


def _revision(count: int) -> tuple[Snapshot, bundle.Bundle]:
    files = {
        "policies/conv.rego": CONVENTIONS,
        "policies/v0.rego": V0,
        "policies/hashes.rego": HASHES,
        "policies/b.yaml": "\n---\n".join(
            [
                binding("conv", "conv", input="conftest"),
                binding("max", "legacy.v0", parameters={"max": 3}, enforcement="advisory"),
                binding("hash", "hashes", scope={"names": ["d-*7"]}, enforcement="monitor"),
            ]
        ),
    }
    for i in range(count):
        labels = {"owner": "me"} if i % 3 else {}
        image = "app:latest" if i % 5 == 0 else f"app:v{i}"
        files[f"resources/r{i:04}.yaml"] = deployment(
            _name(i), replicas=i % 6, image=image, **labels
        )
    # A document with no namespace and text beyond ASCII, so every field crosses the pipe.
    files["resources/zz.yaml"] = json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ünï"}, "spec": {}}
    )
    snapshot = make_snapshot(files)
    compiled = bundle.compile(snapshot, builtin_dir=NO_BUILTINS)
    assert compiled.problems == ()
    return snapshot, compiled


def _name(i: int) -> str:
    return f"d-{i}" if i % 11 else "legacy"  # legacy: the conftest policy's exception


def _one_process(snapshot: Snapshot, compiled: bundle.Bundle) -> list[Any]:
    return evaluate.Evaluator(compiled, clock=CLOCK, revision="abc123").evaluate_all(snapshot)


def test_two_processes_give_the_decisions_one_gives(caplog: pytest.LogCaptureFixture) -> None:
    snapshot, compiled = _revision(parallel.MIN_RESOURCES + 100)
    one = _one_process(snapshot, compiled)
    with caplog.at_level(logging.WARNING, logger="reconciler.forking"):
        two = parallel.evaluate_parallel(
            snapshot, compiled, clock=CLOCK, workers=2, revision="abc123"
        )
    assert two == one
    assert caplog.text == ""  # the worker's chunks arrived
    outcomes = {d.outcome for d in one}
    assert outcomes == {Outcome.ALLOW, Outcome.DENY, Outcome.WARN, Outcome.ERROR}
    errors = [d for d in two if d.outcome is Outcome.ERROR]
    hashed = [_name(i) for i in range(parallel.MIN_RESOURCES + 100) if _name(i).endswith("7")]
    assert [d.resource.name for d in errors] == hashed and len(hashed) > 40
    assert "builtin crypto.sha256 is not available" in errors[0].messages[0]
    assert any(d.resource.namespace is None and d.resource.name == "ünï" for d in two)


def test_the_compact_form_gives_back_equal_decisions() -> None:
    snapshot, compiled = _revision(40)
    decisions = _one_process(snapshot, compiled)
    assert parallel.decode(parallel.encode(decisions)) == decisions
    assert parallel.decode(parallel.encode([])) == []


def test_a_worker_that_dies_has_its_chunks_evaluated_by_the_caller(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    snapshot, compiled = _revision(parallel.MIN_RESOURCES + 100)
    one = _one_process(snapshot, compiled)
    parent = os.getpid()

    class Dying(evaluate.Evaluator):
        done = 0  # resources this process evaluated (each forked worker counts its own)

        def evaluate_document(self, resource: Any) -> list[Any]:
            Dying.done += 1
            if os.getpid() != parent and Dying.done > 30:
                os._exit(3)  # killed in its second chunk: that chunk's results never arrive
            return super().evaluate_document(resource)

    monkeypatch.setattr(parallel, "Evaluator", Dying)
    with caplog.at_level(logging.WARNING, logger="reconciler.forking"):
        two = parallel.evaluate_parallel(
            snapshot, compiled, clock=CLOCK, workers=2, revision="abc123"
        )
    assert two == one
    assert "did not return chunk" in caplog.text


def test_a_small_revision_is_evaluated_without_forking(monkeypatch: pytest.MonkeyPatch) -> None:
    snapshot, compiled = _revision(parallel.MIN_RESOURCES - 2)
    one = _one_process(snapshot, compiled)

    def no_fork() -> int:
        raise AssertionError("forked for a small revision")

    monkeypatch.setattr(os, "fork", no_fork)
    assert (
        parallel.evaluate_parallel(snapshot, compiled, clock=CLOCK, workers=2, revision="abc123")
        == one
    )
