"""Real HTTP servers on loopback for tests of clients: a quiet handler base with a `reply`
helper, and `serve` yielding the base URL of a threaded server until the test ends."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Handler(BaseHTTPRequestHandler):
    def reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def serve(
    handler: type[BaseHTTPRequestHandler],
    host: str = "127.0.0.1",
    *,
    tls: ssl.SSLContext | None = None,
) -> Iterator[str]:
    """Serve with `handler` on a free port of `host`; yields `http://host:port` (or
    `https://...` when a server-side `tls` context is given)."""
    httpd = ThreadingHTTPServer((host, 0), handler)
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{'https' if tls else 'http'}://{host}:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
