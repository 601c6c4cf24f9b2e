"""The `http` step: one request through the HTTP client adapter, on a worker thread.

The URL, headers and body are rendered from templates (a body that is not a string is
sent as JSON). The status must be one of `expectStatus`; outputs are `status`, `headers`,
`body` (bounded, text) and `json` when the body parses. The blocking call
(`reconciler.httpclient`) runs in a thread so the loop stays free; a cancelled step abandons
the thread, which ends at the socket timeout (the step's timeout, or 30 s). Redirects are
followed; one to another origin drops the credential headers, as curl does (the adapter's
docstring lists them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

from reconciler import httpclient
from reconciler.run import templating
from reconciler.run.steps import base
from reconciler.specs import flows, types

DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True, kw_only=True)
class _Request:
    method: str
    url: str
    headers: dict[str, str]
    data: bytes | None
    timeout: float
    max_body: int


class HttpKind:
    async def run(self, step: flows.Step, ctx: base.StepContext) -> base.StepResult:
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


def _request(step: flows.Step, ctx: base.StepContext) -> _Request:
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


def _send(request: _Request) -> tuple[int, dict[str, str], str]:
    try:
        answer = httpclient.request(
            request.method,
            request.url,
            headers=request.headers,
            content=request.data,
            timeout=request.timeout,
            max_body=request.max_body,
        )
    except httpclient.HttpFailed as exc:
        raise base.StepFailed(str(exc)) from None
    return answer.status, answer.headers, answer.text
