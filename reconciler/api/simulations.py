"""Simulation reports over HTTP: listing them (`GET /api/v1/simulations?source=&pr=`), one
report as JSON (`GET /api/v1/simulations/{id}`) or as the Markdown comment
(`GET /api/v1/simulations/{id}/markdown`), and starting one by hand
(`POST /api/v1/simulations` with `{"source", "base", "head"}`; the gate of `api.auth` asks
the operator role of every POST). The handlers read the store and hand requests to the
daemon's simulation service; `openapi_paths()` describes them for the API document.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.api import openapi, views
from reconciler.api.replies import BadRequest, error
from reconciler.reconcile.simulations.service import Simulator
from reconciler.store.interfaces import SimulationRecord, SimulationStatus, Store

MARKDOWN = "text/markdown; charset=utf-8"


def summary(record: SimulationRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "source": record.source,
        "forge": record.forge,
        "number": record.number,
        "base": record.base,
        "head": record.head,
        "status": record.status.value,
        "blocked": record.blocked,
        "conclusion": record.conclusion,
        "summary": record.summary,
        "forgeError": record.forge_error,
        "parts": len(record.markdown),
        "createdAt": views.when(record.created_at),
        "finishedAt": views.when(record.finished_at),
    }


def markdown_text(record: SimulationRecord) -> str:
    return "\n\n".join(part.rstrip("\n") for part in record.markdown) + "\n"


def listed(store: Store, query: Mapping[str, str]) -> list[dict[str, Any]]:
    """The simulations a listing query asks for, newest first (blocking: the store)."""
    limit = _integer(query, "limit", most=1000)
    found = store.list_simulations(
        source=query.get("source") or None,
        number=_integer(query, "pr", most=2**62),
        limit=50 if limit is None else limit,
    )
    return [summary(s) for s in found]


def routes(store: Store, *, simulator: Simulator) -> list[Route]:
    """Plain handlers, run on Starlette's thread pool (the store and the queue block)."""

    def listing(request: Request) -> Response:
        return JSONResponse({"simulations": listed(store, request.query_params)})

    def one(request: Request) -> Response:
        found = store.get_simulation(request.path_params["id"])
        if found is None:
            return error(f'no simulation "{request.path_params["id"]}"', 404)
        return JSONResponse({**summary(found), "report": found.report})

    def as_markdown(request: Request) -> Response:
        found = store.get_simulation(request.path_params["id"])
        if found is None:
            return error(f'no simulation "{request.path_params["id"]}"', 404)
        return Response(markdown_text(found), media_type=MARKDOWN)

    async def start(request: Request) -> Response:
        given = _body(await request.body())
        sim_id = await run_in_threadpool(
            simulator.start, source=given["source"], base=given["base"], head=given["head"]
        )
        body = {"simulation": sim_id, "status": SimulationStatus.QUEUED.value}
        return JSONResponse(body, status_code=202)

    return [
        Route("/api/v1/simulations", listing, methods=["GET"]),
        Route("/api/v1/simulations", start, methods=["POST"]),
        Route("/api/v1/simulations/{id}", one, methods=["GET"]),
        Route("/api/v1/simulations/{id}/markdown", as_markdown, methods=["GET"]),
    ]


def _integer(query: Mapping[str, str], name: str, *, most: int) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise BadRequest(f"query parameter {name}: must be a non-negative integer, got {raw!r}")
    return min(int(raw), most)


def _body(raw: bytes) -> dict[str, str]:
    try:
        body = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"body is not JSON: {exc}") from None
    keys = ("source", "base", "head")
    if not isinstance(body, dict) or not all(
        isinstance(body.get(k), str) and body[k].strip() for k in keys
    ):
        raise BadRequest(
            'body must be {"source": name, "base": rev, "head": rev}, each a non-empty string'
        )
    return {k: body[k].strip() for k in keys}


def openapi_paths() -> dict[str, Any]:
    """OpenAPI path items of the endpoints `routes` returns (see `api.openapi`)."""
    o = openapi
    fields = {
        "id": o.STRING,
        "source": o.STRING,
        "forge": o.STRING,
        "number": o.nullable(o.INTEGER),
        "base": o.STRING,
        "head": o.STRING,
        "status": o.enum(SimulationStatus),
        "blocked": o.BOOLEAN,
        "conclusion": o.nullable(o.STRING),
        "summary": o.STRING,
        "forgeError": o.nullable(o.STRING),
        "parts": o.INTEGER,
        "createdAt": o.TIME,
        "finishedAt": o.nullable(o.TIME),
    }
    item = o.obj(fields)
    full = o.obj({**fields, "report": o.nullable({"type": "object"})})
    sim_id = o.path_param("id", "simulation id")
    missing = {"404": o.error("no such simulation")}
    bad = {"400": o.error("a query parameter or the body is unusable")}
    start = o.post(
        "simulate a change of a source by hand (queued)",
        o.obj({"simulation": o.STRING, "status": o.enum([SimulationStatus.QUEUED])}),
        errors={**bad, "404": o.error("no such source")},
    )
    start["post"]["requestBody"] = {
        "required": True,
        "content": {
            o.JSON: {
                "schema": o.obj(
                    {"source": o.STRING, "base": o.STRING, "head": o.STRING}, extra=True
                )
            }
        },
    }
    listing = o.get(
        "simulations, newest first",
        o.obj({"simulations": {"type": "array", "items": item}}),
        parameters=[
            o.query("source", o.STRING, "only this source's simulations"),
            o.query("pr", {"type": "integer", "minimum": 0}, "only this pull request's"),
            o.count("limit", 50, "most simulations to return (above 1000 reads as 1000)"),
        ],
        errors=bad,
    )
    text = {
        "description": "the report as Markdown, every part",
        "content": {"text/markdown": {"schema": o.STRING}},
    }
    return {
        "/api/v1/simulations": {**listing, **start},
        "/api/v1/simulations/{id}": o.get(
            "one simulation with its JSON report", full, parameters=[sim_id], errors=missing
        ),
        "/api/v1/simulations/{id}/markdown": {
            "get": {
                "summary": "one simulation's report as Markdown",
                "parameters": [sim_id],
                "responses": {"200": text, **o.SECURED, **missing},
            }
        },
    }
