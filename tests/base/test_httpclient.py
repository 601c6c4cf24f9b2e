"""The HTTP client adapter against a real server on loopback: bounded bodies, redirect
loops, failures named with the password masked, and no httpx in a process that sends
nothing. (The redirect credential rule is proved through the http step, in
tests/run/test_http_redirects.py.)"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from reconciler import httpclient


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        reply = b"x" * 10_000
        self.send_response(418)
        self.send_header("Content-Length", str(len(reply)))
        self.send_header("X-Mixed-Case", "yes")
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_any_status_is_an_answer_and_the_body_read_is_bounded(server: str) -> None:
    answer = httpclient.request("GET", f"{server}/big", timeout=5, max_body=100)
    assert (answer.status, answer.ok, answer.body) == (418, False, b"x" * 100)
    assert answer.headers["X-Mixed-Case"] == "yes"  # names as the server wrote them
    assert answer.method == "GET"


def test_a_redirect_loop_is_a_failure_naming_the_request(server: str) -> None:
    with pytest.raises(httpclient.HttpFailed) as caught:
        httpclient.request("GET", f"{server}/loop", timeout=5)
    assert str(caught.value) == f"GET {server}/loop failed: more than 20 redirects"


def test_a_redirect_is_an_answer_when_not_followed(server: str) -> None:
    answer = httpclient.request("GET", f"{server}/loop", timeout=5, follow_redirects=False)
    assert (answer.status, answer.headers["Location"]) == (302, "/loop")


def test_an_unreachable_server_is_named_without_its_password() -> None:
    with pytest.raises(httpclient.HttpFailed) as caught:
        httpclient.request("GET", "http://user:pw@127.0.0.1:9/x", timeout=5)
    assert str(caught.value) == (
        "GET http://***@127.0.0.1:9/x failed: [Errno 111] Connection refused"
    )
    assert caught.value.reason == "failed: [Errno 111] Connection refused"
    assert not isinstance(caught.value, httpclient.Timeout)


def test_the_adapter_loads_httpx_only_when_it_sends() -> None:
    code = "import sys, reconciler.httpclient; print('httpx' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "False"
