"""The HTTP client adapter against real servers on loopback: bounded bodies, redirect
loops, failures named with the password masked, TLS checked against the certificate store
the host configures, and no httpx in a process that sends nothing. (The redirect
credential rule is proved through the http step, in tests/run/test_http_redirects.py.)"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

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


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A private CA and a certificate it signed for 127.0.0.1: (ca, cert, key)."""
    ca, ca_key = folder / "ca.pem", folder / "ca.key"
    cert, key, csr, ext = (folder / n for n in ("cert.pem", "key.pem", "req.csr", "ext.cnf"))
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    new_key = ("-newkey", "rsa:2048", "-nodes", "-keyout")
    as_ca = ("-addext", "basicConstraints=critical,CA:TRUE")
    signing = ("-addext", "keyUsage=critical,keyCertSign,cRLSign")
    signed_by_ca = ("-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-extfile", ext)
    for args in (
        ("req", "-x509", *new_key, ca_key, "-out", ca, "-subj", "/CN=test CA", *as_ca, *signing),
        ("req", *new_key, key, "-out", csr, "-subj", "/CN=127.0.0.1"),
        ("x509", "-req", "-in", csr, "-out", cert, *signed_by_ca),
    ):
        subprocess.run(["openssl", *map(str, args)], capture_output=True, check=True, timeout=60)
    return ca, cert, key


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on loopback with a certificate of a private CA; (url, CA file)."""
    ca, cert, key = _certificates(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    for url in loopback.serve(_Handler, tls=context):
        yield url, ca


def _get_in_a_process(url: str, env: dict[str, str]) -> str:
    code = (
        "import sys\nfrom reconciler import httpclient\n"
        "try:\n    print(httpclient.request('GET', sys.argv[1], timeout=10).status)\n"
        "except httpclient.HttpFailed as exc:\n    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("SSL_CERT_")} | env,
    )
    return done.stdout.strip()


def test_tls_trusts_the_configured_certificate_store_and_nothing_else(
    tls_server: tuple[str, Path],
) -> None:
    url, ca = tls_server
    assert _get_in_a_process(f"{url}/x", {"SSL_CERT_FILE": str(ca)}) == "418"
    refused = _get_in_a_process(f"{url}/x", {})
    assert refused.startswith(f"GET {url}/x failed: [SSL: CERTIFICATE_VERIFY_FAILED]")
