"""The http step follows a redirect to another host without the request's credentials
(`Authorization`, cookies, API-key and token headers), as curl does; to the same host it
keeps them. Two real servers on loopback, at 127.0.0.1 and 127.0.0.2."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from reconciler.store import sqlite
from tests import loopback
from tests.run.helpers import latest, run_to_end, workflow

SENT = {
    "Authorization": "Bearer s3cret",
    "X-Api-Key": "k3y",
    "Private-Token": "t0ken",
    "Cookie": "session=abc",
    "X-Trace": "kept",
}


class _Handler(loopback.Handler):
    def do_GET(self) -> None:
        if self.path.startswith("/to/"):
            self.reply(302, b"", {"Location": self.path.removeprefix("/to/")})
        else:
            self.reply(200, json.dumps(dict(self.headers.items())).encode())


@pytest.fixture
def origin() -> Iterator[str]:
    yield from loopback.serve(_Handler, "127.0.0.1")


@pytest.fixture
def elsewhere() -> Iterator[str]:
    yield from loopback.serve(_Handler, "127.0.0.2")


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
    for other in loopback.serve(_Handler, "127.0.0.1"):
        assert received(store, f"{origin}/to/{other}/landing") == {"X-Trace": "kept"}
