"""The daemon's notifier and sender: a notice queued by one daemon and not yet delivered is
delivered by the next daemon started on the same data directory."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

from reconciler.clock import SystemClock
from reconciler.events import Event, EventType
from reconciler.reconcile.daemon import Daemon
from reconciler.reconcile.settings import DaemonSettings
from reconciler.store.outbox import Delivery
from tests.notify.conftest import Receiver


def daemon_settings(data_dir: Path, url: str) -> DaemonSettings:
    return DaemonSettings.model_validate(
        {
            "dataDir": str(data_dir),
            "notifications": {
                "channels": [{"name": "ops", "type": "slack", "url": url}],
                "routes": [{"events": ["ResourceBlocked"], "channels": ["ops"]}],
                "retry": {"backoff": "1s"},
            },
        }
    )


async def _until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(600):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def _run(daemon: Daemon, work: Callable[[Daemon], Awaitable[None]]) -> None:
    async def scenario() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(daemon.run(stop))
        try:
            await work(daemon)
        finally:
            stop.set()
            await running

    asyncio.run(scenario())


def test_a_restart_delivers_what_the_last_daemon_left_unsent(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.answers = [500]
    chosen = daemon_settings(tmp_path / "data", receiver.url)
    blocked = Event(
        type=EventType.RESOURCE_BLOCKED,
        at=SystemClock().now(),
        source="prod",
        object_key="File//a",
        message="File a has no owner label",
    )

    async def first(daemon: Daemon) -> None:
        await asyncio.to_thread(daemon.bus.publish, blocked)
        await _until(lambda: len(receiver.posts) == 1, "the first attempt")
        await _until(lambda: daemon.store.notifications()[0].attempts == 1, "its failure noted")

    _run(Daemon(chosen, clock=SystemClock()), first)

    second = Daemon(chosen, clock=SystemClock())
    [left] = second.store.notifications()
    assert (left.status, left.attempts, left.error) == (
        Delivery.PENDING,
        1,
        "channel ops answered 500",
    )

    async def resumed(daemon: Daemon) -> None:
        await _until(lambda: len(receiver.posts) == 2, "the delivery after the restart")
        await _until(lambda: daemon.store.notifications()[0].status is Delivery.SENT, "sent")

    _run(second, resumed)
    assert receiver.posts[0].body == receiver.posts[1].body
    assert json.loads(receiver.posts[1].body)["text"] == (
        "[warning] Change to File//a blocked by policy in prod: File a has no owner label"
    )
