"""Optimizations over HTTP: `GET /api/v1/optimizations` lists proposals and reverts newest
first with the latest run's flagged bindings (viewer), `GET /api/v1/optimizations/{id}` is
one with its change, trade-off table, simulation, decision, where it landed or why it
closed, regression test and its run's flagged bindings, and `POST /api/v1/optimizations/run`
(operator; body `{"source": name}`, optional when there is one source; a remote source's
proposals are pushed and opened as pull requests) performs one optimization run now and
answers with what it proposed and which earlier proposals it found merged or closed
(200). On a store several replicas share, a replica that does not own the source queues
the run for its owner instead (`optimize.schedule`; one queued per source at a time) and
answers 202 with the run's id (`{"runId", "queued": true}`; the queued run's when one was
queued already); its outcome is the run's record and the proposals it makes.
`api.state` adds `openapi_paths()` to the API description.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from reconciler.api import openapi
from reconciler.api.deps import Deps
from reconciler.api.replies import BadRequest, count_param, error
from reconciler.optimize import catalog, proposals, pulls, runner
from reconciler.run import triggers
from reconciler.store import runqueue


def routes(deps: Deps) -> list[BaseRoute]:
    async def listing(request: Request) -> Response:
        limit = count_param(request.query_params, "limit", default=100, most=1000)
        found = await run_in_threadpool(catalog.listed, deps.store, limit=limit)
        flagged = await run_in_threadpool(catalog.latest_flagged, deps.store)
        listed = [catalog.summary(r) for r in found]
        return JSONResponse({"optimizations": listed, "flagged": flagged})

    async def one(request: Request) -> Response:
        wanted = request.path_params["optimization_id"]
        record = await run_in_threadpool(catalog.find, deps.store, wanted)
        if record is None:
            return error(f"no optimization {wanted}", 404)
        return JSONResponse(await run_in_threadpool(catalog.described, deps.store, record))

    async def run(request: Request) -> Response:
        name, ws, url = _workspace(deps, _source_name(await request.body()))
        if deps.settings.store.resolved_url() is not None and not deps.runners[name].owned:
            run_id = await run_in_threadpool(_queue, deps, name, ws)
            return JSONResponse({"runId": run_id, "queued": True}, status_code=202)
        client = triggers.Prometheus(url) if url else None
        result = await run_in_threadpool(runner.run, ws, prometheus=client, trigger="api")
        made = [catalog.summary(r) for r in (*result.proposals, *result.reverts)]
        body = {
            "revision": result.revision,
            "proposals": made,
            "skipped": list(result.skipped),
            "flagged": list(result.flagged),
            "landed": [catalog.summary(r) for r in result.watched.landed],
            "closed": [catalog.summary(r) for r in result.watched.closed],
        }
        return JSONResponse(body)

    return [
        Route("/api/v1/optimizations", listing),
        Route("/api/v1/optimizations/run", run, methods=["POST"]),
        Route("/api/v1/optimizations/{optimization_id}", one),
    ]


def _source_name(raw: bytes) -> str | None:
    try:
        body = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"body is not JSON: {exc}") from None
    name = body.get("source") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not isinstance(name, str | None):
        raise BadRequest('body must be {"source": name} or empty')
    return name


def _queue(deps: Deps, name: str, ws: proposals.Workspace) -> str:
    """Queue a run of source `name` for its owner (blocking: store); its id, or the id of
    the one queued already."""
    record = runner.pending(ws, trigger="api")
    if deps.store.enqueue_once(record, target=name, at=deps.clock.now()):
        return record.id
    found = deps.store.queued_runs(kind=runqueue.OPTIMIZATION)
    return next((q.run_id for q in found if q.target == name), record.id)


def _workspace(deps: Deps, name: str | None) -> tuple[str, proposals.Workspace, str | None]:
    settings = deps.settings
    sources = [s for s in settings.sources if name in (None, s.name)]
    if len(sources) != 1:
        raise BadRequest(f'no source "{name}"' if name else 'several sources: give "source"')
    source = sources[0]
    ws = proposals.Workspace(
        repo=source.path,
        ref=source.ref,
        store=deps.store,
        clock=deps.clock,
        bus=deps.bus,
        data_dir=settings.data_dir,
        remote=source if source.url else None,
        forges=pulls.clients(settings.forges),
    )
    return source.name, ws, settings.prometheus.url


def openapi_paths() -> dict[str, Any]:
    o = openapi
    item = o.obj(
        {
            "id": o.STRING,
            "at": o.STRING,
            "type": o.STRING,
            "subject": o.STRING,
            "resource": o.STRING,
            "field": o.STRING,
            "old": {"description": "a number; text or an object for a recommendation"},
            "new": {"description": "a number; text or an object for a recommendation"},
            "changeText": o.STRING,
            "state": o.STRING,
            "level": o.STRING,
            "outcome": o.STRING,
            "branch": o.STRING,
            "commit": o.STRING,
            "simulation": o.STRING,
        }
    )
    ran = o.obj(
        {
            "revision": o.STRING,
            "proposals": {"type": "array", "items": item},
            "skipped": {"type": "array", "items": o.STRING},
            "flagged": {"type": "array", "items": o.STRING},
            "landed": {"type": "array", "items": item},
            "closed": {"type": "array", "items": item},
        }
    )
    flagged = {
        "oneOf": [
            {"type": "null"},
            o.obj({"runId": o.STRING, "bindings": {"type": "array", "items": o.STRING}}),
        ]
    }
    run = o.post("one optimization run now", ran, errors={"400": o.error("no usable source")})
    queued = o.response(
        "queued for the replica that owns the source",
        o.obj({"runId": o.STRING, "queued": {"type": "boolean"}}),
    )
    run["post"]["responses"] = {
        "200": run["post"]["responses"].pop("202"),
        "202": queued,
        **run["post"]["responses"],
    }
    return {
        "/api/v1/optimizations": o.get(
            "optimization proposals and reverts, newest first",
            o.obj({"optimizations": {"type": "array", "items": item}, "flagged": flagged}),
            parameters=[o.count("limit", 100, "at most this many (1..1000)")],
            errors=o.BAD_QUERY,
        ),
        "/api/v1/optimizations/run": run,
        "/api/v1/optimizations/{optimization_id}": o.get(
            "one optimization: change, trade-off, simulation, decision, regression test",
            {"type": "object"},
            parameters=[o.path_param("optimization_id", "optimization id")],
            errors={"404": o.error("no such optimization")},
        ),
    }
