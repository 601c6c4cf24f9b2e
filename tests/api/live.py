"""A real daemon behind a real HTTP server on loopback, for the API tests and benchmarks.

The daemon's event loop runs in a background thread, exactly as `reconciler serve` runs
it; tests talk to it with httpx. Every runner's `trigger` is wrapped so a test can assert
which sources a request triggered (it is called synchronously inside the request, so the
list is complete when the response arrives) instead of waiting to see whether a reconcile
happens. The daemon itself can be started later (`start_daemon`), to look at the API
before the first fetch.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from reconciler.api import app as web
from reconciler.api.server import HttpServer
from reconciler.clock import SystemClock
from reconciler.reconcile.daemon import Daemon
from reconciler.reconcile.settings import DaemonSettings
from tests import gitrepo

SETTINGS_YAML = (
    "apiVersion: reconciler.dev/v1\nkind: Settings\nmetadata: {name: demo}\n"
    "spec: {providers: {File: file}}\n"
)
OWNER_REGO = """package files.owner

import rego.v1

deny contains msg if {
	not input.resource.metadata.labels.owner
	msg := sprintf("%s has no owner", [input.resource.metadata.name])
}
"""
BINDING_YAML = """apiVersion: reconciler.dev/v1
kind: PolicyBinding
metadata: {name: owner}
spec: {policy: files.owner, scope: {kinds: [File]}, enforcement: strict}
"""


def file_doc(name: str, *, path: Path, owner: str | None) -> str:
    labels = f", labels: {{owner: {owner}}}" if owner else ""
    return (
        f"apiVersion: reconciler.dev/v1\nkind: File\nmetadata: {{name: {name}{labels}}}\n"
        f'spec: {{path: {path}, content: "{name}\\n"}}\n'
    )


def demo_repo(path: Path, *, out: Path, owned: int = 1, unowned: int = 1) -> str:
    """A repository with `owned` Files that pass the owner policy and `unowned` it blocks.

    The first owned File is `motd`, the first unowned one `banner`.
    """
    names = [("motd" if i == 0 else f"owned-{i}", "platform") for i in range(owned)]
    names += [("banner" if i == 0 else f"unowned-{i}", None) for i in range(unowned)]
    docs = "---\n".join(file_doc(n, path=out / n, owner=o) for n, o in names)
    return gitrepo.make_repo(
        path,
        {
            "reconciler.yaml": SETTINGS_YAML,
            "resources/files.yaml": docs,
            "policies/owner.rego": OWNER_REGO,
            "policies/bindings.yaml": BINDING_YAML,
        },
    )


def settings_for(data_dir: Path, *sources: dict[str, Any], **extra: Any) -> DaemonSettings:
    """Daemon settings for a test; File resources may live anywhere in the test's folder
    (the data directory's parent) unless `providers` says otherwise."""
    extra.setdefault("providers", {"file": {"roots": [str(data_dir.parent.resolve())]}})
    return DaemonSettings.model_validate({"dataDir": str(data_dir), "sources": sources, **extra})


@dataclass
class Live:
    daemon: Daemon
    server: HttpServer
    loop: asyncio.AbstractEventLoop
    client: httpx.Client
    triggers: list[tuple[str, str]] = field(default_factory=list)
    stop: asyncio.Event | None = None
    daemon_task: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.post(path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.delete(path, **kwargs)

    def start_daemon(self) -> None:
        async def start() -> None:
            assert self.stop is not None
            self.daemon_task = asyncio.create_task(self.daemon.run(self.stop))

        asyncio.run_coroutine_threadsafe(start(), self.loop).result(timeout=10)

    def wait_for(self, check: Callable[[], bool], what: str, *, timeout: float = 30) -> None:
        """Poll `check` until it holds; fail naming `what` after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.02)

    def passes(self, source: str) -> int:
        return self.daemon.runner(source).passes


def _record_triggers(daemon: Daemon, into: list[tuple[str, str]]) -> None:
    for name, runner in daemon.runners.items():
        original = runner.trigger

        def recording(reason: str, *, _name: str = name, _inner: Any = original) -> None:
            into.append((_name, reason))
            _inner(reason)

        runner.trigger = recording  # type: ignore[method-assign]


@contextlib.contextmanager
def serve(settings: DaemonSettings, *, run_daemon: bool = True) -> Iterator[Live]:
    """Serve `create_app(daemon)` on 127.0.0.1:<free port>; stop everything on exit."""
    daemon = Daemon(settings, clock=SystemClock())
    server = HttpServer(web.create_app(daemon), host="127.0.0.1", port=0, limits=settings.http)
    loop = asyncio.new_event_loop()
    live = Live(daemon=daemon, server=server, loop=loop, client=httpx.Client(timeout=10))
    _record_triggers(daemon, live.triggers)

    async def main() -> None:
        live.stop = asyncio.Event()
        await server.serve(live.stop)
        if live.daemon_task is not None:
            await live.daemon_task

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    try:
        live.wait_for(lambda: server.started or not thread.is_alive(), "the server to listen")
        assert server.started, "the server did not start"
        live.client.base_url = httpx.URL(live.base_url)
        if run_daemon:
            live.start_daemon()
        yield live
    finally:
        live.client.close()
        if live.stop is not None:
            loop.call_soon_threadsafe(live.stop.set)
        thread.join(timeout=30)
        loop.close()
        if live.daemon_task is None:
            daemon.store.close()
