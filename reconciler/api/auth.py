"""Who may call what: bearer tokens with roles, the login cookie, and CSRF for browsers.

Tokens are configured hashed (`auth.tokens[].sha256`); a presented token is hashed and
compared with every configured hash in constant time, so neither the token nor which entry
matched leaks through timing. Reads need `viewer` (or nothing, with `auth.publicRead`),
every other method `operator`; health probes, the login page, static assets and webhooks
(which carry their own signatures) are public. With no tokens configured the daemon is open,
which `check_exposure` allows on a loopback address only. A browser's state-changing request
must also echo the CSRF cookie in `X-CSRF-Token` (double submit); API clients using
`Authorization: Bearer` are not exposed to CSRF and skip it. This is a plain ASGI middleware
so the web framework stays inside `api.app`.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from http import cookies
from typing import Any

from reconciler.errors import UsageError
from reconciler.reconcile.settings import AuthSettings, DaemonSettings, Role
from reconciler.run.steps import approval

SESSION_COOKIE = "reconciler_token"
CSRF_COOKIE = "reconciler_csrf"
CSRF_HEADER = "x-csrf-token"
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/login", "/logout", "/favicon.ico"})
PUBLIC_PREFIXES = ("/static/", "/webhooks/")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RANK = {
    Role.METRICS: 0,
    **{Role(name): rank for rank, name in enumerate(approval.ROLES, start=1)},
}
"""One ranking of roles, shared with the approvers of approval steps (`role:<role>`); a
`metrics` token ranks below every approver."""
METRICS_PATH = "/metrics"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class Principal:
    """The caller: a token's name and role, or `anonymous`."""

    name: str
    role: Role

    def may(self, needed: Role) -> bool:
        return RANK[self.role] >= RANK[needed]


OPEN = Principal(name="anonymous", role=Role.ADMIN)
"""The caller of a daemon without tokens (loopback only, or `allowAnonymous`)."""
READER = Principal(name="anonymous", role=Role.VIEWER)
"""An unauthenticated caller where `publicRead` is on."""


def hash_token(token: str) -> str:
    """The hex SHA-256 of a token, as `auth.tokens[].sha256` holds it."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(settings: DaemonSettings) -> None:
    """Refuse to serve without tokens on an address others can reach."""
    auth, host = settings.auth, settings.http.host
    if not auth.tokens and not auth.allow_anonymous and not is_loopback(host):
        raise UsageError(
            f"refusing to listen on {host} without access control: configure auth.tokens, "
            "listen on a loopback address, or set auth.allowAnonymous: true"
        )


class Tokens:
    """The configured tokens; `identify` maps a presented token to its principal."""

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self._entries = [
            (t.sha256.encode(), Principal(name=t.name, role=t.role)) for t in settings.tokens
        ]

    @property
    def open(self) -> bool:
        return not self._entries

    def identify(self, token: str | None) -> Principal | None:
        if not token:
            return None
        presented = hash_token(token).encode()
        found = None
        for digest, principal in self._entries:  # no early exit: same time for every token
            if hmac.compare_digest(digest, presented) and found is None:
                found = principal
        return found


def required_role(method: str, path: str, *, public_read: bool) -> Role | None:
    """The least role a request needs; None when anyone may make it."""
    if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
        return None
    if method in SAFE_METHODS:
        if public_read:
            return None
        return Role.METRICS if path == METRICS_PATH else Role.VIEWER
    return Role.OPERATOR


def csrf_ok(*, cookie: str | None, presented: str | None) -> bool:
    return bool(cookie and presented) and hmac.compare_digest(
        str(cookie).encode(), str(presented).encode()
    )


@dataclass(frozen=True, kw_only=True)
class Credentials:
    token: str | None
    from_cookie: bool
    csrf_cookie: str | None
    csrf_header: str | None
    browser: bool  # the request came from a browser page (Origin or Sec-Fetch-Site sent)


def credentials(scope: Scope) -> Credentials:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    jar = cookies.SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except cookies.CookieError:
        jar = cookies.SimpleCookie()
    bearer = headers.get("authorization", "")
    token = bearer[7:].strip() if bearer[:7].lower() == "bearer " else None
    session = jar[SESSION_COOKIE].value if SESSION_COOKIE in jar else None
    csrf = jar[CSRF_COOKIE].value if CSRF_COOKIE in jar else None
    return Credentials(
        token=token or session,
        from_cookie=not token and session is not None,
        csrf_cookie=csrf,
        csrf_header=headers.get(CSRF_HEADER),
        browser="origin" in headers or "sec-fetch-site" in headers,
    )


class Gate:
    """ASGI middleware: authenticate, authorise, check CSRF, and put the caller in
    `scope["state"]["principal"]` for the endpoints (e.g. to record an approver)."""

    def __init__(
        self,
        app: Asgi,
        *,
        tokens: Tokens,
        login_page: Callable[[str], tuple[bytes, dict[str, str]]],
    ) -> None:
        self.app, self.tokens, self.login_page = app, tokens, login_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        given = credentials(scope)
        principal = self._principal(given)
        needed = required_role(method, path, public_read=self.tokens.settings.public_read)
        if needed is not None and principal is None:
            await self._unauthenticated(scope, send, path=path, method=method)
            return
        if needed is not None and principal is not None and not principal.may(needed):
            message = (
                f"{principal.name} ({principal.role}) may not {method} {path}: "
                f"needs the {needed} role"
            )
            await send_json(send, 403, {"error": message})
            return
        if self._needs_csrf(method, path, given) and not csrf_ok(
            cookie=given.csrf_cookie, presented=given.csrf_header
        ):
            await send_json(send, 403, {"error": "CSRF token missing or wrong"})
            return
        state = scope.setdefault("state", {})
        state["principal"] = principal or READER
        await self.app(scope, receive, send)

    @staticmethod
    def _needs_csrf(method: str, path: str, given: Credentials) -> bool:
        """A browser's (cookie or page) change; sign-in forms check their own token."""
        if method in SAFE_METHODS or path in PUBLIC_PATHS or path.startswith("/webhooks/"):
            return False
        return given.from_cookie or given.browser

    def _principal(self, given: Credentials) -> Principal | None:
        if self.tokens.open:
            return OPEN
        return self.tokens.identify(given.token)

    async def _unauthenticated(self, scope: Scope, send: Send, *, path: str, method: str) -> None:
        accept = dict(scope["headers"]).get(b"accept", b"").decode("latin-1")
        if method == "GET" and not path.startswith("/api/") and "text/html" in accept:
            body, headers = self.login_page(path)
            await send_body(send, 401, body, content_type="text/html", headers=headers)
            return
        await send_json(
            send,
            401,
            {"error": "authentication required: send a bearer token"},
            headers={"www-authenticate": 'Bearer realm="reconciler"'},
        )


async def send_json(
    send: Send, status: int, body: Any, *, headers: dict[str, str] | None = None
) -> None:
    await send_body(
        send, status, json.dumps(body).encode(), content_type="application/json", headers=headers
    )


async def send_body(
    send: Send,
    status: int,
    body: bytes,
    *,
    content_type: str,
    headers: dict[str, str] | None = None,
) -> None:
    raw = [
        (b"content-type", f"{content_type}; charset=utf-8".encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
