"""Serve the app with uvicorn on the daemon's own event loop; the only uvicorn importer.

Signals belong to the daemon (it finishes in-flight work before exiting), so uvicorn's own
signal handling is turned off and the server stops when the daemon's stop event is set.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn
from starlette.applications import Starlette


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpServer:
    def __init__(self, app: Starlette, *, host: str, port: int) -> None:
        # log_config=None: uvicorn's records go through the daemon's own handler and
        # format (text or JSON lines) instead of a second, differently formatted one.
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            log_config=None,
        )
        self._server = _Server(config)
        self._app = app

    @property
    def port(self) -> int:
        """The bound port (useful with port 0); valid once started."""
        sockets = [s for server in self._server.servers for s in server.sockets]
        return int(sockets[0].getsockname()[1])

    @property
    def started(self) -> bool:
        return bool(self._server.started)

    async def serve(self, stop: asyncio.Event) -> None:
        task = asyncio.create_task(self._server.serve())
        await stop.wait()
        # Endless responses (the event stream) end on this, or shutdown would wait for them.
        getattr(self._app.state, "stopping", asyncio.Event()).set()
        self._server.should_exit = True
        await task
