"""Serve the app with uvicorn on the daemon's own event loop; the only uvicorn importer.

Signals belong to the daemon (it finishes in-flight work before exiting), so uvicorn's own
signal handling is turned off and the server stops when the daemon's stop event is set.

Connections are bounded from `http` settings: a cap on open connections (`limit_concurrency`;
more get 503), the largest request head h11 buffers, the keep-alive timeout, and a header
timeout uvicorn lacks: a connection whose request head is not complete in time (a client
sending its headers a byte at a time) is closed, so half-sent requests cannot hold every
file descriptor. With `http.tls` it serves HTTPS, reloading a rotated certificate (`tls`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import h11
import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.http.h11_impl import H11Protocol

from reconciler.api import tls
from reconciler.reconcile.settings import HttpSettings
from reconciler.specs.types import seconds


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _HeaderTimeout(H11Protocol):
    """h11 with a deadline for each request head, from connect or the previous response."""

    header_timeout = 10.0
    _heads = 0  # request heads awaited so far on this connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def _arm(self) -> None:
        self._heads += 1
        self.loop.call_later(self.header_timeout, self._expire, self._heads)

    def _expire(self, head: int) -> None:
        # Still waiting for the same request head: drop the connection.
        if head == self._heads and self.conn.their_state is h11.IDLE:
            self.transport.close()


def _protocol(timeout: float) -> type[H11Protocol]:
    return type("HeaderTimeoutProtocol", (_HeaderTimeout,), {"header_timeout": timeout})


class HttpServer:
    def __init__(
        self, app: Starlette, *, host: str, port: int, limits: HttpSettings | None = None
    ) -> None:
        limits = limits or HttpSettings()
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
            http=_protocol(seconds(limits.header_timeout)),
            limit_concurrency=limits.max_connections,
            timeout_keep_alive=max(1, round(seconds(limits.keep_alive_timeout))),
            h11_max_incomplete_event_size=limits.max_header_bytes,
            ssl_certfile=limits.tls.cert_file if limits.tls else None,
            ssl_keyfile=limits.tls.key_file if limits.tls else None,
        )
        self._server = _Server(config)
        self._app = app
        self._tls = limits.tls

    @property
    def scheme(self) -> str:
        return "https" if self._tls else "http"

    @property
    def port(self) -> int:
        """The bound port (useful with port 0); valid once started."""
        sockets = [s for server in self._server.servers for s in server.sockets]
        return int(sockets[0].getsockname()[1])

    @property
    def started(self) -> bool:
        return bool(self._server.started)

    async def serve(self, stop: asyncio.Event) -> None:
        config = self._server.config
        config.load()  # builds the TLS context, which `tls.keep_loaded` then refreshes
        task = asyncio.create_task(self._server.serve())
        if self._tls is not None and config.ssl is not None:
            reloading = asyncio.create_task(tls.keep_loaded(config.ssl, self._tls, stop))
        await stop.wait()
        # Endless responses (the event stream) end on this, or shutdown would wait for them.
        getattr(self._app.state, "stopping", asyncio.Event()).set()
        self._server.should_exit = True
        await task
        if self._tls is not None and config.ssl is not None:
            await reloading
