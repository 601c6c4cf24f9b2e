"""The HTTP client adapter against a real server on loopback: bounded bodies, redirect
loops, failures named with the password masked, and no httpx in a process that sends
nothing. (The redirect credential rule is proved through the http step, in
tests/run/test_http_redirects.py.)"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from reconciler import httpclient
from tests import loopback


class _Handler(loopback.Handler):
    def do_GET(self) -> None:
        if self.path == "/loop":
            self.reply(302, b"", {"Location": "/loop"})
        else:
            self.reply(418, b"x" * 10_000, {"X-Mixed-Case": "yes"})


@pytest.fixture
def server() -> Iterator[str]:
    yield from loopback.serve(_Handler)


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
