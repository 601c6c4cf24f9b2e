"""The http step follows a redirect to another host without the request's credentials
(`Authorization`, cookies, API-key and token headers), as curl does; to the same host it
keeps them. Two real servers on loopback, at 127.0.0.1 and 127.0.0.2."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from reconciler.store import sqlite
from tests.run.helpers import latest, run_to_end, workflow

SENT = {
    "Authorization": "Bearer s3cret",
    "X-Api-Key": "k3y",
    "Private-Token": "t0ken",
    "Cookie": "session=abc",
    "X-Trace": "kept",
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/to/"):
            self.send_response(302)
            self.send_header("Location", self.path.removeprefix("/to/"))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        reply = json.dumps(dict(self.headers.items())).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: Any) -> None:
        pass


def _serve(host: str) -> Iterator[str]:
    httpd = ThreadingHTTPServer((host, 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://{host}:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def origin() -> Iterator[str]:
    yield from _serve("127.0.0.1")


@pytest.fixture
def elsewhere() -> Iterator[str]:
    yield from _serve("127.0.0.2")


def received(store: sqlite.SqliteStore, url: str) -> dict[str, str]:
    spec = workflow([{"name": "get", "kind": "http", "http": {"url": url, "headers": SENT}}])
    run = asyncio.run(run_to_end(store, spec))
    answer: dict[str, str] = latest(run)["get"].output["json"]
    return {k: v for k, v in answer.items() if k in SENT}


def test_credentials_are_dropped_on_a_redirect_to_another_host(
    store: sqlite.SqliteStore, origin: str, elsewhere: str
) -> None:
    assert received(store, f"{origin}/to/{elsewhere}/landing") == {"X-Trace": "kept"}


def test_credentials_are_kept_on_a_redirect_to_the_same_host(
    store: sqlite.SqliteStore, origin: str
) -> None:
    assert received(store, f"{origin}/to/{origin}/landing") == SENT


def test_a_redirect_to_another_port_of_the_same_host_drops_them_too(
    store: sqlite.SqliteStore, origin: str
) -> None:
    other = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=other.serve_forever, daemon=True)
    thread.start()
    try:
        target = f"http://127.0.0.1:{other.server_address[1]}/landing"
        assert received(store, f"{origin}/to/{target}") == {"X-Trace": "kept"}
    finally:
        other.shutdown()
        other.server_close()
