"""An engine is freed on the thread that built it, whichever thread lets go of it last.

PyO3 refuses to free a regorus engine anywhere but on its creating thread (an unraisable
`RuntimeError`, and the engine leaks). Engines let go of elsewhere are handed back to their
thread, which frees them when it next builds an engine or when it ends."""

from __future__ import annotations

import gc
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest

from reconciler.policy import rego
from reconciler.policy.rego import RegoEngine

MODULE = "package a\nimport rego.v1\nx := 1\n"


def _built() -> RegoEngine:
    engine = RegoEngine()
    engine.add_module("a.rego", MODULE)
    assert engine.eval_rule("data.a.x") == 1
    return engine


class _Worker(threading.Thread):
    """A long-lived thread that runs what it is given, like a source's worker."""

    def __init__(self) -> None:
        super().__init__()
        self._jobs: list[tuple[Callable[[], Any], threading.Event, list[Any]]] = []
        self._ready = threading.Condition()

    def call(self, job: Callable[[], Any]) -> Any:
        done, box = threading.Event(), []
        with self._ready:
            self._jobs.append((job, done, box))
            self._ready.notify()
        assert done.wait(timeout=60)
        return box.pop()  # the worker keeps no reference

    def run(self) -> None:
        while True:
            with self._ready:
                self._ready.wait_for(lambda: bool(self._jobs))
                job, done, box = self._jobs.pop(0)
            if job is _stop:
                done.set()
                box.append(None)
                return
            box.append(job())
            done.set()


def _stop() -> None:
    pass


@pytest.fixture
def unraisable(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    seen: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    return seen


def test_an_engine_let_go_of_elsewhere_is_freed_on_its_thread(unraisable: list[Any]) -> None:
    worker = _Worker()
    worker.start()
    try:
        engine = worker.call(_built)
        owner = engine._owner
        del engine  # the last reference goes away here, on the main thread
        gc.collect()
        assert len(owner._returned) == 1  # handed back, not freed here, not leaked
        # The worker builds its next engine (and drops it there): it frees the returned one.
        assert worker.call(lambda: _built() is not None)
        assert owner._returned == []
    finally:
        worker.call(_stop)
        worker.join()
    assert unraisable == []


def test_what_was_handed_back_is_freed_when_the_thread_ends(unraisable: list[Any]) -> None:
    worker = _Worker()
    worker.start()
    engine = worker.call(_built)
    owner = engine._owner
    del engine
    gc.collect()
    worker.call(_stop)
    worker.join()
    assert owner._returned == []
    assert unraisable == []


def test_an_engine_outliving_its_thread_is_kept_silently_with_a_warning(
    unraisable: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    box: list[RegoEngine] = []
    worker = threading.Thread(target=lambda: box.append(_built()))
    worker.start()
    worker.join()
    with caplog.at_level(logging.WARNING, logger=rego.__name__):
        box.clear()
        gc.collect()
    assert unraisable == []
    assert [r.getMessage() for r in caplog.records] == [
        "a Rego engine outlived the thread that built it and is kept"
    ]
