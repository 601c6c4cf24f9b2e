"""The audit log over HTTP (viewer role): `GET /api/v1/audit?since=&limit=` lists entries
after position `since` in chain order, each with its `prev_hash` and `hash`;
`GET /api/v1/audit/verify` walks the whole chain and says whether it is intact, or which
entry first breaks it (docs/audit.md). `api.app` mounts `routes(store)` and adds
`openapi_paths()` to the API description.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.api import openapi
from reconciler.store.audit import AuditLog, Breach

MAX_LIMIT = 1000


def routes(store: AuditLog) -> list[Route]:
    async def listing(request: Request) -> Response:
        since = request.query_params.get("since", "0")
        limit = request.query_params.get("limit", "100")
        if not since.isdigit():
            return JSONResponse({"error": "since must be a position (0 or more)"}, status_code=400)
        if not limit.isdigit() or not 0 < int(limit) <= MAX_LIMIT:
            return JSONResponse({"error": f"limit must be 1..{MAX_LIMIT}"}, status_code=400)
        found = await run_in_threadpool(store.audit_entries, since=int(since), limit=int(limit))
        return JSONResponse({"entries": [e.to_json() for e in found]})

    async def verify(request: Request) -> Response:
        found = await run_in_threadpool(store.verify_audit)
        return JSONResponse(found.to_json())

    return [Route("/api/v1/audit", listing), Route("/api/v1/audit/verify", verify)]


def openapi_paths() -> dict[str, Any]:
    o = openapi
    entry = o.obj(
        {
            "seq": o.INTEGER,
            "id": o.STRING,
            "at": o.TIME,
            "type": o.STRING,
            "subject": o.STRING,
            "actor": o.STRING,
            "data": {"type": "object"},
            "prev_hash": o.STRING,
            "hash": o.STRING,
        }
    )
    verification = o.obj(
        {
            "intact": o.BOOLEAN,
            "count": o.INTEGER,
            "headSeq": o.INTEGER,
            "head": o.STRING,
            "breach": o.nullable(o.enum([b.value for b in Breach])),
            "seq": o.nullable(o.INTEGER),
            "id": o.nullable(o.STRING),
            "message": o.STRING,
        }
    )
    return {
        "/api/v1/audit": o.get(
            "audit log entries after a position, in chain order",
            o.obj({"entries": {"type": "array", "items": entry}}),
            parameters=[
                o.count("since", 0, "only entries after this position"),
                o.count("limit", 100, f"at most this many (1..{MAX_LIMIT})"),
            ],
            errors=o.BAD_QUERY,
        ),
        "/api/v1/audit/verify": o.get(
            "walk the audit chain: intact, or the first edited, removed or reordered entry",
            verification,
        ),
    }
