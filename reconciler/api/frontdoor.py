"""The outermost ASGI middleware: what every request passes before anything reads it.

* `Host` allow-list. A browser page on a foreign name that resolves to the daemon (DNS
  rebinding) sends that name as `Host`; refusing it (421) keeps such a page from reading
  the token-less loopback daemon or fetching its CSRF token same-origin. Loopback names, IP
  literals (an origin that is an IP address cannot be rebound) and the bind address are
  served, plus `http.allowedHosts`.
* Body limits, counted while the body streams: a declared `Content-Length` over the limit
  is refused unread, and a chunked body is cut off at the first byte past it, so no
  endpoint ever holds more than the limit in memory. Webhooks have their own, larger limit.
* Security headers on every response: a Content-Security-Policy that allows only the
  daemon's own scripts, styles and connections and no framing, and `nosniff`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from reconciler.api.auth import send_json
from reconciler.reconcile.settings import HttpSettings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
WEBHOOK_PREFIX = "/webhooks/"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)


class BodyTooLarge(Exception):
    """A request body passed its limit while streaming (answered 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body is larger than the limit of {limit} bytes")


@dataclass(frozen=True, kw_only=True)
class Hosts:
    """Which `Host` names are served."""

    names: frozenset[str]
    any_name: bool = False

    @classmethod
    def of(cls, settings: HttpSettings) -> Hosts:
        names = {n.lower().strip("[]") for n in settings.allowed_hosts}
        return cls(
            names=frozenset(names | LOOPBACK_NAMES | {settings.host.lower().strip("[]")}),
            any_name="*" in names,
        )

    def allows(self, host: str) -> bool:
        name = _hostname(host)
        if self.any_name or name in self.names:
            return True
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True


def _hostname(host: str) -> str:
    """`host[:port]` or `[v6]:port` without the port, lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


class FrontDoor:
    """ASGI middleware applying the `Host` allow-list, body limits and security headers."""

    def __init__(self, app: Asgi, *, settings: HttpSettings) -> None:
        self.app, self.settings = app, settings
        self.hosts = Hosts.of(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        secured = _secured(send)
        headers = dict(scope["headers"])
        host = headers.get(b"host", b"").decode("latin-1")
        if not self.hosts.allows(host):
            message = f"host {host!r} is not served here (add it to http.allowedHosts)"
            await send_json(secured, 421, {"error": message})
            return
        limit = self._limit(scope["path"])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await send_json(secured, 413, {"error": str(BodyTooLarge(limit))})
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await secured(message)

        try:
            await self.app(scope, _counted(receive, limit), tracking)
        except BodyTooLarge as exc:
            if started:
                raise
            await send_json(secured, 413, {"error": str(exc)}, headers={"connection": "close"})

    def _limit(self, path: str) -> int:
        if path.startswith(WEBHOOK_PREFIX):
            return self.settings.max_webhook_bytes
        return self.settings.max_body_bytes


def _counted(receive: Receive, limit: int) -> Receive:
    """`receive`, raising `BodyTooLarge` at the first chunk that passes `limit` bytes."""
    seen = 0

    async def counting() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return counting


def _secured(send: Send) -> Send:
    async def securing(message: Message) -> None:
        if message["type"] == "http.response.start":
            present = {name.lower() for name, _ in message.get("headers", [])}
            extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
            message["headers"] = [*message.get("headers", []), *extra]
        await send(message)

    return securing
