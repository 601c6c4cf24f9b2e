"""An engine whose last reference goes away on another thread must not raise there."""

from __future__ import annotations

import gc
import sys
import threading
from typing import Any

from reconciler.policy.engine import RegoEngine


def test_dropping_an_engine_off_its_thread_is_silent(monkeypatch: Any) -> None:
    seen: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    box: list[RegoEngine] = []

    def build() -> None:
        engine = RegoEngine()
        engine.add_module("a.rego", "package a\nimport rego.v1\nx := 1\n")
        assert engine.eval_rule("data.a.x") == 1
        box.append(engine)

    worker = threading.Thread(target=build)
    worker.start()
    worker.join()
    box.clear()
    gc.collect()
    assert seen == []
