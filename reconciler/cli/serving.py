"""The running daemon of `reconciler serve`: the reconcile loops and the HTTP server on one
asyncio loop until SIGTERM or SIGINT. Kept apart from `serve.py` (arguments and settings) so
that only this verb imports the web stack; `serve.run` imports it when it starts.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable

from reconciler.api import app as web
from reconciler.api.server import HttpServer
from reconciler.clock import SystemClock
from reconciler.optimize import proposals, pulls, schedule
from reconciler.reconcile import settings as daemon_settings
from reconciler.reconcile.daemon import Daemon
from reconciler.store import runqueue
from reconciler.store.interfaces import Store

log = logging.getLogger("reconciler")
DATA_DIR_ENV = "RECONCILER_DATA_DIR"


async def serve(settings: daemon_settings.DaemonSettings, *, flags: daemon_settings.Flags) -> None:
    """Run the daemon and its HTTP server until a signal sets `stop`; both finish in-flight work."""
    # Every process the daemon starts (exec providers, workflow and runbook commands) finds
    # its data directory here, so examples and scripts keep their state in it.
    os.environ[DATA_DIR_ENV] = str(settings.data_dir.resolve())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _stopper(stop, sig))
    daemon = Daemon(settings, clock=SystemClock(), flags=flags)
    server = HttpServer(
        web.create_app(daemon),
        host=settings.http.host,
        port=settings.http.port,
        limits=settings.http,
    )
    serving = asyncio.create_task(server.serve(stop))
    running = asyncio.create_task(daemon.run(stop))
    claims = daemon.claims(runqueue.OPTIMIZATION)  # a due run fires once, on the owner
    workspaces = _workspaces(settings, daemon, store=daemon.store.fenced(claims.fence))
    optimizing = asyncio.create_task(
        schedule.scheduled(
            stop,
            workspaces=list(workspaces.values()),
            names=list(workspaces),
            claims=claims,
            prometheus=settings.prometheus.url,
        )
    )
    while not server.started and not serving.done():
        await asyncio.sleep(0.01)
    if server.started:
        names = ", ".join(daemon.runners)
        print(
            f"serving {server.scheme}://{settings.http.host}:{server.port} (sources: {names}; "
            f"data: {settings.data_dir})",
            flush=True,
        )
    await asyncio.gather(serving, running, optimizing)
    log.info("stopped")


def _workspaces(
    settings: daemon_settings.DaemonSettings, daemon: Daemon, *, store: Store
) -> dict[str, proposals.Workspace]:
    """Where scheduled optimization runs commit, by source: every unsuspended source (a
    remote one's proposals are pushed and opened as pull requests); their writes go to
    `store`, fenced by this replica's claims."""
    return {
        s.name: proposals.Workspace(
            repo=s.path,
            ref=s.ref,
            store=store,
            clock=daemon.clock,
            bus=daemon.bus,
            data_dir=settings.data_dir,
            remote=s if s.url else None,
            forges=pulls.clients(settings.forges),
        )
        for s in settings.sources
        if not s.suspend
    }


def _stopper(stop: asyncio.Event, sig: signal.Signals) -> Callable[[], None]:
    def handle() -> None:
        if not stop.is_set():
            log.info("%s received: finishing in-flight reconciles, then stopping", sig.name)
        stop.set()

    return handle
