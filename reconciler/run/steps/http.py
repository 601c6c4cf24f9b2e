"""The `http` step: one request with the standard library, on a worker thread.

The URL, headers and body are rendered from templates (a body that is not a string is
sent as JSON). The status must be one of `expectStatus`; outputs are `status`, `headers`,
`body` (bounded, text) and `json` when the body parses. A blocking `urllib` call runs in a
thread so the loop stays free; a cancelled step abandons the thread, which ends at the
socket timeout (the step's timeout, or 30 s). Redirects are followed; one to another
origin drops the credential headers (`Authorization`, `Proxy-Authorization`, `Cookie`, and
any whose name holds `api-key`, `apikey`, `token` or `secret`), as curl does.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import IO, Any

from reconciler.run import templating
from reconciler.run.steps import base
from reconciler.specs import runs, types

DEFAULT_TIMEOUT = 30.0
_PORTS = {"http": 80, "https": 443}
_CREDENTIALS = frozenset({"authorization", "proxy-authorization", "cookie"})
_CREDENTIAL_WORDS = ("api-key", "apikey", "token", "secret")  # X-Api-Key, Private-Token, ...


@dataclass(frozen=True, kw_only=True)
class _Request:
    method: str
    url: str
    headers: dict[str, str]
    data: bytes | None
    timeout: float
    max_body: int


class Http:
    async def run(self, step: runs.Step, ctx: base.StepContext) -> base.StepResult:
        assert step.http is not None
        request = _request(step, ctx)
        status, headers, body = await asyncio.to_thread(_send, request)
        outputs: dict[str, Any] = {"status": status, "headers": headers, "body": body}
        with contextlib.suppress(ValueError):
            outputs["json"] = json.loads(body)
        if status not in step.http.expect_status:
            expected = ", ".join(str(s) for s in step.http.expect_status)
            raise base.StepFailed(f"HTTP {status}, expected {expected}", outputs=outputs)
        return base.StepResult(outputs=outputs)


def _request(step: runs.Step, ctx: base.StepContext) -> _Request:
    spec = step.http
    assert spec is not None
    url = templating.render(spec.url, ctx.scope)
    if not url.startswith(("http://", "https://")):
        raise base.StepFailed(f"url {url!r}: only http and https are allowed")
    headers = {
        k: templating.to_text(v)
        for k, v in templating.render_value(dict(spec.headers), ctx.scope).items()
    }
    body = templating.render_value(spec.body, ctx.scope)
    data = None
    if isinstance(body, str):
        data = body.encode()
    elif body is not None:
        data = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    timeout = types.seconds(step.timeout) if step.timeout else DEFAULT_TIMEOUT
    return _Request(
        method=spec.method,
        url=url,
        headers=headers,
        data=data,
        timeout=timeout,
        max_body=ctx.limits.http_max_body,
    )


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects as urllib does, but leaves the credentials behind when one leads
    to another origin (scheme, host or port), as curl does: they were meant for the first."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and _origin(new.full_url) != _origin(req.full_url):
            for name in [n for n in new.headers if _credential(n)]:
                del new.headers[name]
        return new


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.hostname, parts.port or _PORTS.get(parts.scheme)


def _credential(name: str) -> bool:
    lowered = name.lower()
    return lowered in _CREDENTIALS or any(word in lowered for word in _CREDENTIAL_WORDS)


def _send(request: _Request) -> tuple[int, dict[str, str], str]:
    req = urllib.request.Request(
        request.url, data=request.data, headers=request.headers, method=request.method
    )
    opener = urllib.request.build_opener(_Redirects())
    try:
        with opener.open(req, timeout=request.timeout) as response:
            return response.status, dict(response.headers), _body(response, request.max_body)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), _body(exc, request.max_body)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise base.StepFailed(f"{request.method} {request.url}: {reason}") from None


def _body(response: Any, limit: int) -> str:
    data: bytes = response.read(limit)
    return data.decode("utf-8", errors="replace")
