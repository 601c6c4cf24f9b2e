"""Fixtures for the provider tests: resource documents and a real HTTP JSON store."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import MappingProxyType
from typing import Any

import pytest

from reconciler.specs.snapshot import Document

MakeDocument = Callable[..., Document]


def raised(
    call: Callable[[Document], object], resource: Document, *, error: type[Exception]
) -> str:
    """The message of the `error` that `call(resource)` must raise."""
    with pytest.raises(error) as caught:
        call(resource)
    return str(caught.value)


@pytest.fixture
def make_document() -> MakeDocument:
    """Build a resource `Document` the way the loader would, from kind, name and spec."""

    def make(
        kind: str,
        name: str,
        spec: dict[str, Any],
        *,
        api_version: str = "reconciler.dev/v1",
        namespace: str | None = None,
        path: str = "resources/managed.yaml",
        line: int = 1,
    ) -> Document:
        metadata: dict[str, Any] = {"name": name}
        if namespace is not None:
            metadata["namespace"] = namespace
        body = {"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec}
        return Document(
            path=path,
            line=line,
            index=0,
            api_version=api_version,
            kind=kind,
            name=name,
            namespace=namespace,
            labels=MappingProxyType({}),
            body=body,
        )

    return make


@dataclass
class JsonStore:
    """A small REST API keeping JSON objects in memory, served on 127.0.0.1 by a real server.

    It stands in for the remote APIs HttpResources manage (a cloud or SaaS API cannot run
    here). `/items/<id>`: GET (404 when absent), PUT (replace), PATCH (merge), DELETE.
    Stored objects gain an `id` field the server owns, as real APIs add fields of their own.
    `/broken/<id>` always answers 500 echoing the Authorization header it received, and
    `/slow/<id>` answers after `slow_seconds`, to exercise error paths. When `token` is set,
    every request needs `Authorization: Bearer <token>` or `header_name: <token>`.
    """

    base_url: str = ""
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    token: str | None = None
    header_name: str = "Authorization"
    slow_seconds: float = 1.0


def _handler(store: JsonStore) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._serve()

        def do_PUT(self) -> None:
            self._serve()

        def do_PATCH(self) -> None:
            self._serve()

        def do_DELETE(self) -> None:
            self._serve()

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            store.requests.append((self.command, self.path, dict(self.headers.items())))
            _, area, item = self.path.split("/", 2)
            if not self._authorised():
                got = self.headers.get(store.header_name)
                self._send(401, {"error": "unauthorised", "got": got})
            elif area == "broken":
                self._send(
                    500,
                    {
                        "error": "store is broken",
                        "authorization": self.headers.get("Authorization"),
                    },
                )
            elif area == "slow":
                time.sleep(store.slow_seconds)
                with contextlib.suppress(ConnectionError):  # the client gave up waiting
                    self._send(200, {})
            else:
                self._item(item, json.loads(raw) if raw else None)

        def _authorised(self) -> bool:
            if store.token is None:
                return True
            expected = store.token
            if store.header_name == "Authorization":
                expected = f"Bearer {store.token}"
            return self.headers.get(store.header_name) == expected

        def _item(self, item: str, body: Any) -> None:
            current = store.items.get(item)
            if self.command == "PUT":
                store.items[item] = {**body, "id": item}
            elif self.command == "PATCH" and current is not None:
                store.items[item] = {**current, **body}
            elif self.command == "DELETE" and current is not None:
                del store.items[item]
                self._send(204, None)
                return
            found = store.items.get(item)
            if found is None:
                self._send(404, {"error": "not found"})
            else:
                self._send(200, found)

        def _send(self, status: int, payload: Any) -> None:
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@pytest.fixture
def json_store() -> Iterator[JsonStore]:
    store = JsonStore()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(store))
    server.daemon_threads = True
    store.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield store
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
