"""A stand-in for the forge REST APIs (GitHub's and GitLab's) on 127.0.0.1: a stdlib
`http.server` that records every request and keeps pull-request comments (merge-request
notes) in memory, answering as the real APIs do for the calls the daemon makes."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

_COMMENTS = re.compile(
    r"^/repos/[^/]+/[^/]+/issues/(\d+)/comments$"
    r"|^/projects/[^/]+/merge_requests/(\d+)/notes$"
)
_ONE = re.compile(
    r"^/repos/[^/]+/[^/]+/issues/comments/(\d+)$"
    r"|^/projects/[^/]+/merge_requests/\d+/notes/(\d+)$"
)


@dataclass(frozen=True, kw_only=True)
class Seen:
    method: str
    path: str  # without the query
    headers: dict[str, str]  # names in lower case
    body: Any


@dataclass
class Forge:
    url: str = ""
    requests: list[Seen] = field(default_factory=list)
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> comment
    fail_with: int | None = None  # answer every request with this status

    def calls(self, method: str, pattern: str) -> list[Seen]:
        return [r for r in self.requests if r.method == method and re.search(pattern, r.path)]

    def answer(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if self.fail_with is not None:
            return self.fail_with, {"message": "Bad credentials"}
        listing, one = _COMMENTS.match(path), _ONE.match(path)
        if listing and method == "GET":
            number = int(listing.group(1) or listing.group(2))
            return 200, [c for c in self.comments.values() if c["number"] == number]
        if listing and method == "POST":
            number = int(listing.group(1) or listing.group(2))
            comment_id = 1000 + len(self.comments) + len(self.requests)
            self.comments[comment_id] = {"id": comment_id, "number": number, **body}
            return 201, self.comments[comment_id]
        if one and method in ("PATCH", "PUT"):
            comment = self.comments[int(one.group(1) or one.group(2))]
            comment.update(body)
            return 200, comment
        if one and method == "DELETE":
            self.comments.pop(int(one.group(1) or one.group(2)))
            return 204, None
        return 201, {"id": len(self.requests), **(body or {})}


@contextmanager
def serve() -> Iterator[Forge]:
    forge = Forge()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            size = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(size) if size else b""
            path = urlsplit(self.path).path
            body = json.loads(raw) if raw else None
            with lock:
                forge.requests.append(
                    Seen(
                        method=self.command,
                        path=path,
                        headers={k.lower(): v for k, v in self.headers.items()},
                        body=body,
                    )
                )
                status, answer = forge.answer(self.command, path, body)
            data = b"" if answer is None else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    forge.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield forge
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
