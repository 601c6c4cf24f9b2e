"""The front door against a real server on loopback: bodies bounded while they stream,
half-sent request heads dropped, a connection cap, the `Host` allow-list and the security
headers. Each test is an attack that worked before the front door existed."""

from __future__ import annotations

import select
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.api import frontdoor
from tests.api import live

MIB = 1024 * 1024


def _serve(tmp_path: Path, **http: Any) -> Any:
    settings = live.settings_for(tmp_path / "data", http={"host": "127.0.0.1", **http})
    return live.serve(settings, run_daemon=False)


@pytest.fixture
def door(tmp_path: Path) -> Iterator[live.Live]:
    with _serve(tmp_path, maxBodyBytes=64 * 1024, maxWebhookBytes=MIB) as running:
        yield running


def _port(running: live.Live) -> int:
    return running.server.port


def _stream(port: int, *, path: str, total: int, host: str = "127.0.0.1") -> tuple[int, bytes]:
    """POST a chunked body of up to `total` bytes, stopping as soon as the server answers;
    returns how much was sent and the raw answer."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n\r\n"
    )
    sock.sendall(head.encode())
    chunk = b"10000\r\n" + b"a" * 0x10000 + b"\r\n"
    sent = 0
    try:
        while sent < total and not select.select([sock], [], [], 0)[0]:
            sock.sendall(chunk)
            sent += 0x10000
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = b""
    try:
        while (data := sock.recv(65536)) and b"}" not in answer:
            answer += data
    except ConnectionResetError:
        pass
    sock.close()
    return sent, answer


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


SERVER = """
import sys, time
from pathlib import Path
from tests.api import live
settings = live.settings_for(Path(sys.argv[1]), http={"maxBodyBytes": 65536})
with live.serve(settings, run_daemon=False) as running:
    print(running.server.port, flush=True)
    sys.stdin.read()
"""


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_a_streamed_100_mib_logout_body_is_refused_without_growing_the_server(
    tmp_path: Path,
) -> None:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(tmp_path / "data")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        before = _peak_rss(server.pid)
        sent, answer = _stream(port, path="/logout", total=100 * MIB)
        after = _peak_rss(server.pid)
    finally:
        server.communicate("", timeout=60)
    assert _status(answer) == 413
    assert b"request body is larger than the limit of 65536 bytes" in answer
    assert sent < 100 * MIB
    assert after - before < 8 * MIB


def test_a_declared_oversized_body_is_refused_unread(door: live.Live) -> None:
    r = door.post("/api/v1/sync", content=b"x" * (64 * 1024 + 1))
    assert r.status_code == 413
    assert r.json() == {"error": "request body is larger than the limit of 65536 bytes"}


def test_webhooks_have_their_own_larger_limit(door: live.Live) -> None:
    # Past the API's limit but under the webhooks': read, then refused for its (missing) token.
    r = door.post("/webhooks/generic", content=b"{}" + b" " * (128 * 1024))
    assert r.status_code == 401
    sent, answer = _stream(_port(door), path="/webhooks/generic", total=8 * MIB)
    assert _status(answer) == 413
    assert b"limit of 1048576 bytes" in answer
    assert sent < 8 * MIB


def test_a_half_sent_request_head_is_dropped_after_the_header_timeout(tmp_path: Path) -> None:
    with _serve(tmp_path, headerTimeout="1s") as running:
        sock = socket.create_connection(("127.0.0.1", _port(running)), timeout=60)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        assert sock.recv(1024) == b""  # closed by the server, nothing answered
        sock.close()
        assert running.get("/healthz").status_code == 200


def test_connections_past_the_cap_get_503(tmp_path: Path) -> None:
    with _serve(tmp_path, maxConnections=2) as running:
        idle = [socket.create_connection(("127.0.0.1", _port(running))) for _ in range(2)]
        try:
            with httpx.Client() as fresh:
                r = fresh.get(f"{running.base_url}/healthz")
            assert r.status_code == 503
        finally:
            for sock in idle:
                sock.close()


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "127.0.0.1.nip.io"])
def test_a_foreign_host_is_refused(door: live.Live, host: str) -> None:
    for method, path in (("GET", "/api/v1/sources"), ("GET", "/"), ("POST", "/api/v1/sync")):
        r = door.client.request(method, path, headers={"Host": host})
        assert r.status_code == 421
        assert r.json() == {
            "error": f"host {host!r} is not served here (add it to http.allowedHosts)"
        }


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost:1", "LOCALHOST", "[::1]:80", "10.1.2.3"])
def test_loopback_names_and_ip_literals_are_served(door: live.Live, host: str) -> None:
    assert door.get("/api/v1/sources", headers={"Host": host}).status_code == 200


def test_configured_hosts_are_served(tmp_path: Path) -> None:
    with _serve(tmp_path, allowedHosts=["reconciler.example"]) as running:
        assert running.get("/healthz", headers={"Host": "Reconciler.example"}).status_code == 200
        assert running.get("/healthz", headers={"Host": "other.example"}).status_code == 421
    with _serve(tmp_path, allowedHosts=["*"]) as running:
        assert running.get("/healthz", headers={"Host": "other.example"}).status_code == 200


def test_pages_carry_the_content_security_policy(door: live.Live) -> None:
    for path in ("/", "/runs", "/api/v1/sources", "/no-such-page"):
        r = door.get(path, headers={"Accept": "text/html"})
        assert r.headers["content-security-policy"] == frontdoor.CONTENT_SECURITY_POLICY
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
