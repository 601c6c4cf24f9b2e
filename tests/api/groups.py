"""One route group served alone, for its own tests: the group's routes on a Starlette app
with the app's JSON error handlers (no front door, no gate), on a real HTTP server on
loopback, over a real daemon's parts — a real git repository as its one source and a real
SQLite store — built but not started, so nothing reconciles unless a test asks."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from reconciler.api import replies
from reconciler.api.deps import Deps
from reconciler.api.server import HttpServer
from reconciler.clock import SystemClock
from reconciler.reconcile.daemon import Daemon
from tests import gitrepo
from tests.api import live


def daemon_for(
    tmp_path: Path, *, workflows: Mapping[str, str] | None = None, **extra: Any
) -> Daemon:
    """A daemon following the demo repository (with `workflows/<name>` files added)."""
    repo = tmp_path / "repo"
    live.demo_repo(repo, out=tmp_path / "out")
    if workflows:
        gitrepo.commit(
            repo, {f"workflows/{n}": text for n, text in workflows.items()}, message="workflows"
        )
    settings = live.settings_for(
        tmp_path / "data",
        {"name": "demo", "path": str(repo), "ref": "main", "interval": "1h"},
        **extra,
    )
    return Daemon(settings, clock=SystemClock())


def served(
    daemon: Daemon, group: Callable[[Deps], Sequence[BaseRoute]]
) -> contextlib.AbstractContextManager[httpx.Client]:
    """`group(deps)` alone on an app served on 127.0.0.1; a client for it."""
    return serve(daemon, group(Deps.of(daemon)))


@contextlib.contextmanager
def serve(
    daemon: Daemon,
    routes: Sequence[BaseRoute],
    *,
    middleware: Sequence[Middleware] = (),
    run_daemon: bool = False,
) -> Iterator[httpx.Client]:
    """`routes` on an app served on 127.0.0.1, behind `middleware`, with the daemon running
    beside it if asked; a client for it. On exit the server and the daemon stop and the
    daemon's simulations and store close."""
    app = Starlette(
        routes=list(routes), middleware=list(middleware), exception_handlers=dict(replies.HANDLERS)
    )
    app.state.stopping = asyncio.Event()
    server = HttpServer(app, host="127.0.0.1", port=0, limits=daemon.settings.http)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def main() -> None:
        await asyncio.gather(server.serve(stop), *([daemon.run(stop)] if run_daemon else []))

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),))
    thread.start()
    try:
        for _ in range(1500):
            if server.started or not thread.is_alive():
                break
            time.sleep(0.01)
        assert server.started, "the server did not start"
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as client:
            yield client
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()
        daemon.simulations.close()
        daemon.store.close()
