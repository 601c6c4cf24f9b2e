"""What every route group answers with beyond its data: a JSON error `{"error": message}`
(also for unknown paths, wrong methods, unusable requests and unknown sources, through
`HANDLERS`), and the query parameters the listings share, refused with a 400
(`BadRequest`) naming the parameter and the value given.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from reconciler.conditions import ConditionStatus
from reconciler.reconcile.settings import UnknownSource


class BadRequest(ValueError):
    """A query parameter or the body has a value the endpoint cannot use (400)."""


def error(message: str, status: int, headers: Mapping[str, str] | None = None) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def count_param(query: Mapping[str, str], name: str, *, default: int, most: int) -> int:
    """A non-negative integer parameter; values above `most` are capped at it."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"query parameter {name}: must be an integer, got {raw!r}") from None
    if value < 0:
        raise BadRequest(f"query parameter {name}: must not be negative, got {value}")
    return min(value, most)


def status_param(query: Mapping[str, str]) -> ConditionStatus:
    raw = query.get("status") or ConditionStatus.TRUE.value
    try:
        return ConditionStatus(raw)
    except ValueError:
        allowed = ", ".join(s.value for s in ConditionStatus)
        raise BadRequest(f"query parameter status: must be one of {allowed}, got {raw!r}") from None


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error(f"no such endpoint: {request.method} {request.url.path}", 404)
    if exc.status_code == 405:
        return error(f"method {request.method} not allowed", 405, exc.headers)
    return error(str(exc.detail), exc.status_code, exc.headers)


async def _bad_request(request: Request, exc: Exception) -> Response:
    return error(str(exc), 400)


async def _unknown_source(request: Request, exc: Exception) -> Response:
    return error(str(exc), 404)


HANDLERS: Mapping[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
    HTTPException: _http_error,
    BadRequest: _bad_request,
    UnknownSource: _unknown_source,
}
"""The exception handlers of the app (and of a route group served alone in its tests)."""
