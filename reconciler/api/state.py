"""The JSON API of the daemon's state: sources (and syncing, suspending and resuming them),
resources with their conditions, the decision log, violations, events, runs, the daemon's
own decisions, the audit log, the OpenAPI document and the live event stream.

Store reads are blocking (SQLite), so those endpoints are plain functions, which Starlette
runs on its thread pool; anything touching the sources' triggers (asyncio events) runs on
the event loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from reconciler.api import (
    audit,
    cache,
    daemon_decisions,
    incidents,
    openapi,
    optimizations,
    runs,
    simulations,
    views,
)
from reconciler.api.dashboard import stream
from reconciler.api.deps import Deps
from reconciler.api.replies import count_param, error, status_param

ACTIONS = ("sync", "suspend", "resume")


def routes(deps: Deps) -> list[BaseRoute]:
    return [
        *_sources(deps),
        *_records(deps),
        *daemon_decisions.routes(deps.store),
        *audit.routes(deps.store),
        Route("/api/v1/openapi.json", _openapi()),
        Route("/api/v1/stream", _stream(deps)),
    ]


def _sources(deps: Deps) -> list[BaseRoute]:
    def sources(request: Request) -> Response:
        return JSONResponse({"sources": [views.source(r.state) for r in deps.runners.values()]})

    def one_source(request: Request) -> Response:
        return JSONResponse(views.source(deps.runner(request.path_params["name"]).state))

    def source_action(action: str) -> Callable[[Request], Awaitable[Response]]:
        async def act(request: Request) -> Response:
            name = request.path_params["name"]
            runner = deps.runner(name)
            if action == "sync":
                deps.request_sync(name, reason=_sync_reason(request))
            else:
                runner.set_suspended(action == "suspend")
            return JSONResponse({"source": name, "action": action}, status_code=202)

        return act

    async def sync_all(request: Request) -> Response:
        triggered = deps.request_sync(reason=_sync_reason(request))
        return JSONResponse({"triggered": triggered}, status_code=202)

    return [
        Route("/api/v1/sources", sources),
        Route("/api/v1/sources/{name}", one_source),
        *(
            Route(f"/api/v1/sources/{{name}}/{a}", source_action(a), methods=["POST"])
            for a in ACTIONS
        ),
        Route("/api/v1/sync", sync_all, methods=["POST"]),
    ]


def _records(deps: Deps) -> list[BaseRoute]:
    store = deps.store
    # The bus carries this daemon's events only: on a shared store other replicas change
    # the state too, so nothing rendered is kept.
    shared = deps.settings.store.resolved_url() is not None
    rendered = cache.RenderCache(max_entries=0 if shared else 64)
    deps.bus.subscribe(rendered.observe)

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
            return error(f'no resource "{key}"', 404)
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

    def list_runs(request: Request) -> Response:
        limit = count_param(request.query_params, "limit", default=50, most=1000)
        return JSONResponse({"runs": [views.run(r) for r in store.list_runs(limit=limit)]})

    return [
        Route("/api/v1/resources", resources),
        Route("/api/v1/resources/{key:path}", one_resource),
        Route("/api/v1/decisions", decisions),
        Route("/api/v1/violations", violations),
        Route("/api/v1/events", events),
        Route("/api/v1/runs", list_runs),
    ]


def _openapi() -> Callable[[Request], Response]:
    document: dict[str, Any] = openapi.document(
        extra_paths={
            **runs.openapi_paths(),
            **daemon_decisions.openapi_paths(),
            **audit.openapi_paths(),
            **incidents.openapi_paths(),
            **simulations.openapi_paths(),
            **optimizations.openapi_paths(),
        }
    )

    def openapi_json(request: Request) -> Response:
        return JSONResponse(document)

    return openapi_json


def _stream(deps: Deps) -> Callable[[Request], Awaitable[Response]]:
    async def event_stream(request: Request) -> Response:
        return StreamingResponse(
            stream.events(deps.bus, stop=request.app.state.stopping),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return event_stream


def _sync_reason(request: Request) -> str:
    """What a requested sync is recorded as coming from: `cli` when `reconciler sync` asked
    (`?trigger=cli`), else `api`."""
    return "cli" if request.query_params.get("trigger") == "cli" else "api"
