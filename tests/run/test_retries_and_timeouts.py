"""Retries wait exactly as the policy says; timeouts kill whole process groups."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import pytest

from reconciler.clock import ManualClock
from reconciler.run import retry
from reconciler.run.steps import base
from reconciler.runstate import RunStatus, StepStatus
from reconciler.specs import flows
from reconciler.store import sqlite
from tests.run.helpers import latest, run_to_end, workflow


def _fake_time() -> tuple[ManualClock, list[float], object]:
    clock = ManualClock()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    return clock, slept, sleep


def test_backoff_doubles_up_to_the_cap_with_equal_jitter() -> None:
    policy = retry.RetryPolicy.of(flows.Retry(max_attempts=5, backoff="2s", max_backoff="5s"))
    assert [policy.delay(attempt=n, rand=lambda: 0.5) for n in (1, 2, 3, 4)] == [
        1.5,
        3.0,
        3.75,
        3.75,
    ]
    assert [policy.delay(attempt=n, rand=lambda: 0.0) for n in (1, 2, 3)] == [1.0, 2.0, 2.5]
    plain = retry.RetryPolicy.of(flows.Retry(max_attempts=5, backoff="100ms", jitter=False))
    assert [plain.delay(attempt=n, rand=lambda: 0.9) for n in (1, 2, 3)] == [0.1, 0.2, 0.4]


def test_retried_attempts_are_recorded_with_exact_delays(store: sqlite.SqliteStore) -> None:
    clock, slept, sleep = _fake_time()
    spec = workflow(
        [
            {
                "name": "flaky",
                "command": ["sh", "-c", "exit 75"],
                "retry": {
                    "maxAttempts": 4,
                    "backoff": "2s",
                    "maxBackoff": "5s",
                    "on": ["exitCode == 75"],
                },
            }
        ]
    )
    run = asyncio.run(run_to_end(store, spec, clock=clock, sleep=sleep, rand=lambda: 0.5))
    assert slept == [1.5, 3.0, 3.75]
    attempts = [(s.attempt, s.status) for s in run.steps if s.name == "flaky"]
    assert attempts == [(n, StepStatus.FAILED) for n in (1, 2, 3, 4)]
    starts = [s.started_at for s in run.steps if s.name == "flaky"]
    assert [(b - a).total_seconds() for a, b in itertools.pairwise(starts)] == slept  # type: ignore[operator]


def test_a_failure_the_conditions_do_not_name_is_not_retried(store: sqlite.SqliteStore) -> None:
    clock, slept, sleep = _fake_time()
    spec = workflow(
        [
            {
                "name": "s",
                "command": ["sh", "-c", "exit 1"],
                "retry": {"maxAttempts": 4, "on": ["exitCode == 75", "timeout"]},
            }
        ]
    )
    run = asyncio.run(run_to_end(store, spec, clock=clock, sleep=sleep))
    assert (slept, latest(run)["s"].attempt) == ([], 1)


def test_a_retry_that_succeeds_ends_the_step(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    clock, slept, sleep = _fake_time()
    marker = tmp_path / "seen"
    spec = workflow(
        [
            {
                "name": "s",
                "command": ["sh", "-c", f"test -e {marker} || {{ touch {marker}; exit 1; }}"],
                "retry": {"maxAttempts": 3, "backoff": "1s", "jitter": False},
            }
        ]
    )
    run = asyncio.run(run_to_end(store, spec, clock=clock, sleep=sleep))
    assert run.status is RunStatus.SUCCEEDED
    assert [(s.attempt, s.status) for s in run.steps if s.name == "s"] == [
        (1, StepStatus.FAILED),
        (2, StepStatus.SUCCEEDED),
    ]
    assert slept == [1.0]


def _gone(pid: int) -> bool:
    """True when `pid` no longer runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def _wait_gone(pid: int) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("where", ["step", "run"])
def test_a_timeout_kills_the_whole_process_group(
    store: sqlite.SqliteStore, tmp_path: Path, where: str
) -> None:
    pidfile = tmp_path / "pid"
    step = {
        "name": "hang",
        "command": ["sh", "-c", f"sleep 30 & echo $! > {pidfile}; trap '' TERM; wait; sleep 30"],
    }
    if where == "step":
        step["timeout"] = "300ms"
        spec = workflow([step])
    else:
        spec = workflow([step], timeout="300ms")
    started = time.monotonic()
    run = asyncio.run(run_to_end(store, spec, limits=base.Limits(kill_grace=0.2)))
    assert time.monotonic() - started < 10
    grandchild = int(pidfile.read_text())
    assert _wait_gone(grandchild)
    record = latest(run)["hang"]
    if where == "step":
        assert (record.status, record.error) == (StepStatus.FAILED, "timed out after 300ms")
        assert run.error == "step hang failed: timed out after 300ms"
    else:
        assert (record.status, record.error) == (StepStatus.CANCELLED, "run timed out after 300ms")
        assert run.error == "timed out after 300ms"


def test_timed_out_attempts_are_retried_when_asked(store: sqlite.SqliteStore) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    spec = workflow(
        [
            {
                "name": "s",
                "command": ["sleep", "5"],
                "timeout": "100ms",
                "retry": {"maxAttempts": 2, "backoff": "1s", "jitter": False, "on": ["timeout"]},
            }
        ]
    )
    run = asyncio.run(run_to_end(store, spec, sleep=sleep))
    assert slept == [1.0]
    assert [(s.attempt, s.error) for s in run.steps if s.name == "s"] == [
        (1, "timed out after 100ms"),
        (2, "timed out after 100ms"),
    ]
