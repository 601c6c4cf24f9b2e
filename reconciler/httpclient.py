"""The one adapter around httpx, the HTTP client every outgoing request goes through.

The http provider, the workflow `http` step, forge posting, the Prometheus client of metric
triggers and the CLI's calls to the daemon all send their requests with `request()`, so
they share one set of rules:
- a body read is bounded when asked;
- every failure to get an answer is an `HttpFailed` (a `Timeout` when time ran out) whose
  message names the method and the URL, with URL credentials and the caller's secrets
  masked (`source.settings.redact_text`);
- redirects are followed (when asked) by hand: one leading to another origin (scheme, host
  or port) leaves the credential headers behind (`Authorization`, `Proxy-Authorization`,
  `Cookie`, and any whose name holds `api-key`, `apikey`, `token` or `secret`), as curl
  does, while one to the same origin keeps them all (httpx itself drops cookies on every
  redirect and keeps an `X-Api-Key` on all);
- TLS trusts the system's certificate store (as the standard library does; `SSL_CERT_FILE`
  and `SSL_CERT_DIR` still apply), not httpx's bundled one, so a private CA the host trusts
  is trusted here too.
- httpx's own log of each request (INFO, the full URL) is silenced: a URL may be a secret
  itself (a Slack incoming-webhook URL) and the failures above say what went wrong.
httpx is imported at the first request, so commands that never send one do not load it.
"""

from __future__ import annotations

import functools
import json as jsonlib
import logging
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reconciler.errors import UsageError
from reconciler.source.settings import redact_text

if TYPE_CHECKING:
    import httpx

MAX_REDIRECTS = 20
_CREDENTIALS = frozenset({"authorization", "proxy-authorization", "cookie"})
_CREDENTIAL_WORDS = ("api-key", "apikey", "token", "secret")  # X-Api-Key, Private-Token, ...
_PORTS = {"http": 80, "https": 443}


class HttpFailed(Exception):
    """No answer came back: the address is bad, the connection failed, or redirects looped.

    The message is `METHOD url failed: reason` (`... timed out after 2s` for a `Timeout`);
    `reason` alone is for callers that name the request their own way."""

    def __init__(self, *, where: str, reason: str) -> None:
        self.reason = reason
        super().__init__(f"{where} {reason}")


class Timeout(HttpFailed):
    """No answer came back in time."""


@dataclass(frozen=True, kw_only=True)
class Response:
    """An answer, whatever its status; `body` holds at most the bytes asked for."""

    method: str
    url: str  # of the last request, after redirects
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body decoded as JSON; `ValueError` when it is not JSON."""
        return jsonlib.loads(self.body)


def request(
    method: str,
    url: str,
    *,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    json: Any = None,
    content: bytes | None = None,
    params: Mapping[str, str] | None = None,
    follow_redirects: bool = True,
    max_body: int | None = None,
    secrets: tuple[str, ...] = (),
    cacert: str | None = None,
) -> Response:
    """Send one request (and its redirects); the answer, or `HttpFailed`, whose message
    shows none of `secrets` (the credentials in `headers`). `cacert`: verify https servers
    against the certificates in this PEM file instead of the system's."""
    import httpx

    _quiet_httpx()
    where = redact_text(f"{method} {url}")
    try:
        trust = _system_trust() if cacert is None else _trust_in(cacert)
        with httpx.Client(timeout=timeout, verify=trust) as client:
            sent = client.build_request(
                method, url, headers=headers, json=json, content=content, params=params
            )
            return _exchange(client, sent, follow=follow_redirects, max_body=max_body)
    except httpx.TimeoutException:
        raise Timeout(where=where, reason=f"timed out after {timeout:g}s") from None
    except (httpx.HTTPError, httpx.InvalidURL) as error:
        reason = redact_text(f"failed: {error}", secrets=secrets)
        raise HttpFailed(where=where, reason=reason) from None


@functools.cache
def _quiet_httpx() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)


@functools.cache
def _system_trust() -> ssl.SSLContext:
    """One TLS context for every request (building one reads the whole store)."""
    return ssl.create_default_context()


def _trust_in(cacert: str) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=cacert)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"{cacert}: not a readable PEM certificate file ({exc})") from None


def _exchange(
    client: httpx.Client, sent: httpx.Request, *, follow: bool, max_body: int | None
) -> Response:
    import httpx

    for _ in range(MAX_REDIRECTS + 1):
        answer = client.send(sent, stream=True)
        try:
            following = answer.next_request if follow else None
            if following is None:
                return _response(sent, answer, max_body=max_body)
        finally:
            answer.close()
        sent = _redirected(sent, following)
    raise httpx.TooManyRedirects(f"more than {MAX_REDIRECTS} redirects", request=sent)


def _redirected(previous: httpx.Request, following: httpx.Request) -> httpx.Request:
    if _origin(following.url) != _origin(previous.url):
        for name in [n for n in following.headers if _credential(n)]:
            del following.headers[name]
    elif "cookie" in previous.headers:
        following.headers["Cookie"] = previous.headers["cookie"]
    return following


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port or _PORTS.get(url.scheme)


def _credential(name: str) -> bool:
    lowered = name.lower()
    return lowered in _CREDENTIALS or any(word in lowered for word in _CREDENTIAL_WORDS)


def _response(sent: httpx.Request, answer: httpx.Response, *, max_body: int | None) -> Response:
    return Response(
        method=sent.method,
        url=str(sent.url),
        status=answer.status_code,
        headers={k.decode("latin-1"): v.decode("latin-1") for k, v in answer.headers.raw},
        body=_read(answer, max_body),
    )


def _read(answer: httpx.Response, limit: int | None) -> bytes:
    if limit is None:
        return answer.read()
    data = bytearray()
    for chunk in answer.iter_bytes():
        data += chunk[: limit - len(data)]
        if len(data) >= limit:
            break
    return bytes(data)
