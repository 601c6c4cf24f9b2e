"""The daemon's own decisions over HTTP (viewer role): `GET /api/v1/daemon/decisions`
lists them newest first, filtered by `type`, `subject`, `outcome` or `run`;
`GET /api/v1/daemon/decisions/{id}` is one whole record — context, options, per-option
scores with their rule and history parts, choice, confidence, level, approver, outcome and
explanation. (`/api/v1/decisions` is the policy decision log.)
`api.app` mounts `routes(store)` and adds `openapi_paths()` to the API description.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.api import openapi
from reconciler.decide import ledger
from reconciler.store.daemon_decisions import DaemonDecisions

FILTERS = {"type": "type", "subject": "subject", "outcome": "outcome", "run": "run_id"}
MAX_LIMIT = 1000


def routes(store: DaemonDecisions) -> list[Route]:
    async def listing(request: Request) -> Response:
        wanted = {key: request.query_params.get(name) for name, key in FILTERS.items()}
        raw = request.query_params.get("limit", "100")
        if not raw.isdigit() or not 0 < int(raw) <= MAX_LIMIT:
            return JSONResponse({"error": f"limit must be 1..{MAX_LIMIT}"}, status_code=400)
        found = await run_in_threadpool(store.daemon_decisions, **wanted, limit=int(raw))
        return JSONResponse({"decisions": [ledger.summary(e) for e in found]})

    async def one(request: Request) -> Response:
        decision_id = request.path_params["decision_id"]
        entry = await run_in_threadpool(store.get_daemon_decision, decision_id)
        if entry is None:
            return JSONResponse({"error": f"no decision {decision_id}"}, status_code=404)
        return JSONResponse(entry.record)

    return [
        Route("/api/v1/daemon/decisions", listing),
        Route("/api/v1/daemon/decisions/{decision_id}", one),
    ]


def openapi_paths() -> dict[str, Any]:
    o = openapi
    item = o.obj(
        {
            "id": o.STRING,
            "at": o.TIME,
            "type": o.STRING,
            "subject": o.STRING,
            "option": o.nullable(o.STRING),
            "confidence": {"type": "number"},
            "level": o.enum(["human", "operator", "notify", "autonomous"]),
            "outcome": o.STRING,
            "runId": o.nullable(o.STRING),
        }
    )
    filters = [o.query(name, o.STRING, f"only decisions with this {name}") for name in FILTERS] + [
        o.count("limit", 100, f"at most this many (1..{MAX_LIMIT})")
    ]
    return {
        "/api/v1/daemon/decisions": o.get(
            "the daemon's decisions, newest first",
            o.obj({"decisions": {"type": "array", "items": item}}),
            parameters=filters,
            errors=o.BAD_QUERY,
        ),
        "/api/v1/daemon/decisions/{decision_id}": o.get(
            "one decision: context, scored options, choice, level, outcome, explanation",
            {"type": "object"},
            parameters=[o.path_param("decision_id", "decision id")],
            errors={"404": o.error("no such decision")},
        ),
    }
