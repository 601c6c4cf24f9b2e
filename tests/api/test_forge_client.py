"""The forge client over the HTTP adapter, against a real server on loopback standing in
for the forge: JSON both ways, and failures named without the token, even when the forge
echoes it back."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from reconciler.reconcile.simulations import forge
from tests import loopback

TOKEN = "ghp_s3cret"


class _Handler(loopback.Handler):
    def do_POST(self) -> None:
        sent = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        seen = {"body": sent, "auth": self.headers["Authorization"]}
        self.reply(201, json.dumps(seen).encode())

    def do_GET(self) -> None:
        if self.path == "/echo":  # a forge that echoes the request's headers in its error
            self.reply(401, f"bad credentials: {self.headers['Authorization']}".encode())
        else:
            self.reply(200, b"<html>not json</html>")

    def do_DELETE(self) -> None:
        self.reply(204, b"")


@pytest.fixture
def client() -> Iterator[forge.Client]:
    for url in loopback.serve(_Handler):
        yield forge.github_client(api_url=url, token=TOKEN)


def test_json_goes_out_and_comes_back(client: forge.Client) -> None:
    assert client.call("POST", "/items", {"a": 1}) == {
        "body": {"a": 1},
        "auth": f"Bearer {TOKEN}",
    }
    assert client.call("DELETE", "/items/1") is None


def test_a_refusal_is_named_without_the_token(client: forge.Client) -> None:
    with pytest.raises(forge.ForgeError) as caught:
        client.call("GET", "/echo")
    assert str(caught.value) == "GET /echo answered 401: bad credentials: Bearer ***"


def test_an_answer_that_is_not_json_is_named(client: forge.Client) -> None:
    with pytest.raises(forge.ForgeError) as caught:
        client.call("GET", "/page")
    assert str(caught.value) == "GET /page answered with something that is not JSON"


def test_an_unreachable_forge_is_named() -> None:
    client = forge.gitlab_client(api_url="http://127.0.0.1:9", token=TOKEN)
    with pytest.raises(forge.ForgeError) as caught:
        client.call("GET", "/projects")
    assert str(caught.value) == "GET /projects failed: [Errno 111] Connection refused"
