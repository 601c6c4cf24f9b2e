"""Real receivers on loopback for the notification tests: an HTTP server that records what
it is posted and answers with the statuses it is told, an SMTP server (aiosmtpd), and a real
SQLite store."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore
from tests import loopback


@dataclass
class Post:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """What the loopback HTTP server was sent; `answers` are the statuses it gives, in order
    (200 once they run out)."""

    url: str = ""
    posts: list[Post] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, post: Post) -> int:
        with self.lock:
            self.posts.append(post)
            return self.answers.pop(0) if self.answers else 200


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    got = Receiver()

    class Handler(loopback.Handler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = got.take(Post(path=self.path, headers=dict(self.headers), body=body))
            self.reply(status, b"ok" if status < 300 else b"no")

    for url in loopback.serve(Handler):
        got.url = url
        yield got


@dataclass
class Mailbox:
    host: str
    port: int
    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 OK"


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """An SMTP server (aiosmtpd) on a free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    box = Mailbox(host="127.0.0.1", port=port)
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "state.db", retention=RetentionSettings())
    yield opened
    opened.close()
