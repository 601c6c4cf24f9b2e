"""The HTTP surface (Starlette): health, metrics, the read-only JSON API, sync/suspend
actions and forge webhooks. The only module importing the web framework.

Store reads are blocking (SQLite), so those endpoints are plain functions, which Starlette
runs on its thread pool; anything touching the daemon's triggers (asyncio events) runs on
the event loop, and publishing an event (which writes the store) goes back to a thread.
Every error, including unknown paths and wrong methods, is a JSON `{"error": message}`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.api import cache, metrics, views, webhooks
from reconciler.api.hooks import route_delivery
from reconciler.conditions import ConditionStatus
from reconciler.events import Event, EventType
from reconciler.reconcile.daemon import Daemon, UnknownSource

MAX_WEBHOOK_BYTES = 25 * 1024 * 1024
"""GitHub caps payloads at 25 MB; a larger body is refused unread (413)."""

FORGES = ("github", "gitlab", "generic")


class BadQuery(ValueError):
    """A query parameter has a value the endpoint cannot use (400)."""


def _error(message: str, status: int, headers: Mapping[str, str] | None = None) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def count_param(query: Mapping[str, str], name: str, *, default: int, most: int) -> int:
    """A non-negative integer parameter; values above `most` are capped at it."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadQuery(f"query parameter {name}: must be an integer, got {raw!r}") from None
    if value < 0:
        raise BadQuery(f"query parameter {name}: must not be negative, got {value}")
    return min(value, most)


def status_param(query: Mapping[str, str]) -> ConditionStatus:
    raw = query.get("status") or ConditionStatus.TRUE.value
    try:
        return ConditionStatus(raw)
    except ValueError:
        allowed = ", ".join(s.value for s in ConditionStatus)
        raise BadQuery(f"query parameter status: must be one of {allowed}, got {raw!r}") from None


def create_app(daemon: Daemon) -> Starlette:
    store = daemon.store

    def state_counts() -> metrics.StateCounts:
        by_condition: Counter[tuple[str, str, str]] = Counter()
        for status in store.list_status():
            for c in status.conditions:
                by_condition[(status.source, str(c.type), str(c.status))] += 1
        violations = Counter((d.policy, str(d.enforcement)) for d in store.violations())
        return metrics.StateCounts(resources_by_condition=by_condition, violations=violations)

    prom = metrics.Metrics(state_counts)
    daemon.bus.subscribe(prom.observe)
    rendered = cache.RenderCache()
    daemon.bus.subscribe(rendered.observe)

    def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    def readyz(request: Request) -> Response:
        sources = {name: r.ready for name, r in daemon.runners.items()}
        try:
            store.events(since_id=0, limit=1)
            store_ok = True
        except Exception:
            store_ok = False
        ready = store_ok and all(sources.values())
        return JSONResponse(
            {"ready": ready, "sources": sources, "store": store_ok},
            status_code=200 if ready else 503,
        )

    def metrics_endpoint(request: Request) -> Response:
        return Response(prom.render(), media_type=metrics.CONTENT_TYPE)

    def sources(request: Request) -> Response:
        return JSONResponse({"sources": [views.source(r.state) for r in daemon.runners.values()]})

    def one_source(request: Request) -> Response:
        return JSONResponse(views.source(daemon.runner(request.path_params["name"]).state))

    def source_action(action: str) -> Callable[[Request], Awaitable[Response]]:
        async def act(request: Request) -> Response:
            name = request.path_params["name"]
            runner = daemon.runner(name)
            if action == "sync":
                daemon.request_sync(name, reason="api")
            else:
                runner.set_suspended(action == "suspend")
            return JSONResponse({"source": name, "action": action}, status_code=202)

        return act

    async def sync_all(request: Request) -> Response:
        return JSONResponse({"triggered": daemon.request_sync(reason="api")}, status_code=202)

    def resources(request: Request) -> Response:
        q = request.query_params
        source, condition = q.get("source") or None, q.get("condition") or None
        condition_status = status_param(q)

        def render() -> bytes:
            items = store.list_status(
                source=source, condition=condition, condition_status=condition_status
            )
            return bytes(JSONResponse({"resources": [views.resource(s) for s in items]}).body)

        key = f"resources?{source}&{condition}&{condition_status}"
        return Response(rendered.get(key, render), media_type="application/json")

    def one_resource(request: Request) -> Response:
        key = request.path_params["key"]
        status = store.get_status(key)
        if status is None:
            return _error(f'no resource "{key}"', 404)
        return JSONResponse(views.resource(status))

    def decisions(request: Request) -> Response:
        q = request.query_params
        limit = count_param(q, "limit", default=100, most=1000)
        found = store.decisions(policy=q.get("policy"), key=q.get("key"), limit=limit)
        return JSONResponse({"decisions": [d.as_json() for d in found]})

    def violations(request: Request) -> Response:
        found = store.violations(policy=request.query_params.get("policy"))
        return JSONResponse({"violations": [d.as_json() for d in found]})

    def events(request: Request) -> Response:
        q = request.query_params
        since = count_param(q, "since", default=0, most=2**62)
        found = store.events(since_id=since, limit=count_param(q, "limit", default=100, most=1000))
        return JSONResponse({"events": [views.event(e) for e in found]})

    def runs(request: Request) -> Response:
        limit = count_param(request.query_params, "limit", default=50, most=1000)
        return JSONResponse({"runs": [views.run(r) for r in store.list_runs(limit=limit)]})

    def webhook(forge: str) -> Callable[[Request], Awaitable[Response]]:
        async def deliver(request: Request) -> Response:
            try:
                body = await _body(request)
                delivery = _verified(forge, request, body, daemon)
            except webhooks.WebhookRejected as exc:
                await run_in_threadpool(_note, daemon, forge, "rejected")
                return _error(str(exc), exc.status)
            triggered = route_delivery(daemon, delivery)
            await run_in_threadpool(_note, daemon, forge, "accepted")
            body_out = {"kind": delivery.kind.value, "triggered": triggered}
            return JSONResponse(body_out, status_code=202)

        return deliver

    actions = [
        Route(f"/api/v1/sources/{{name}}/{action}", source_action(action), methods=["POST"])
        for action in ("sync", "suspend", "resume")
    ]
    hooks = [Route(f"/webhooks/{forge}", webhook(forge), methods=["POST"]) for forge in FORGES]
    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
            Route("/api/v1/sources", sources),
            Route("/api/v1/sources/{name}", one_source),
            *actions,
            Route("/api/v1/sync", sync_all, methods=["POST"]),
            Route("/api/v1/resources", resources),
            Route("/api/v1/resources/{key:path}", one_resource),
            Route("/api/v1/decisions", decisions),
            Route("/api/v1/violations", violations),
            Route("/api/v1/events", events),
            Route("/api/v1/runs", runs),
            *hooks,
        ],
        exception_handlers={
            HTTPException: _http_error,
            BadQuery: _bad_query,
            UnknownSource: _unknown_source,
        },
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return _error(f"no such endpoint: {request.method} {request.url.path}", 404)
    if exc.status_code == 405:
        return _error(f"method {request.method} not allowed", 405, exc.headers)
    return _error(str(exc.detail), exc.status_code, exc.headers)


async def _bad_query(request: Request, exc: Exception) -> Response:
    return _error(str(exc), 400)


async def _unknown_source(request: Request, exc: Exception) -> Response:
    return _error(str(exc), 404)


async def _body(request: Request) -> bytes:
    """The body, refused with 413 past `MAX_WEBHOOK_BYTES` without reading the rest."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
        raise webhooks.WebhookRejected("body is too large", status=413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_WEBHOOK_BYTES:
            raise webhooks.WebhookRejected("body is too large", status=413)
        chunks.append(chunk)
    return b"".join(chunks)


def _secret(env_name: str | None, what: str) -> str:
    value = os.environ.get(env_name) if env_name else None
    if not value:
        raise webhooks.WebhookRejected(f"{what} is not configured", status=401)
    return value


def _verified(forge: str, request: Request, body: bytes, daemon: Daemon) -> webhooks.Delivery:
    """Verify before parsing: nothing unverified is even read as JSON."""
    hooks = daemon.settings.webhooks
    headers = request.headers
    if forge == "github":
        webhooks.verify_github(
            body,
            headers.get("x-hub-signature-256"),
            secret=_secret(hooks.github_secret_env, "GitHub webhook secret"),
        )
        return webhooks.parse_github(headers.get("x-github-event"), webhooks.load_json(body))
    if forge == "gitlab":
        webhooks.verify_token(
            headers.get("x-gitlab-token"),
            token=_secret(hooks.gitlab_token_env, "GitLab webhook token"),
            header="X-Gitlab-Token",
        )
        return webhooks.parse_gitlab(headers.get("x-gitlab-event"), webhooks.load_json(body))
    given = (
        headers.get("x-reconciler-token")
        or headers.get("authorization", "").removeprefix("Bearer ").strip()
        or None
    )
    webhooks.verify_token(
        given, token=_secret(hooks.generic_token_env, "webhook token"), header="X-Reconciler-Token"
    )
    payload: dict[str, Any] = webhooks.load_json(body) if body.strip() else {}
    return webhooks.parse_generic(payload)


def _note(daemon: Daemon, forge: str, result: str) -> None:
    """Publish the delivery's outcome (the store writes it: call off the event loop)."""
    daemon.bus.publish(
        Event(
            type=EventType.WEBHOOK_RECEIVED,
            at=daemon.clock.now(),
            source="",
            message=f"{forge} webhook {result}",
            data={"forge": forge, "result": result},
        )
    )
