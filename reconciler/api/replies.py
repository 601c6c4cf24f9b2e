"""What every route group answers with beyond its data. Errors are JSON
`{"error": message}`: handlers raise, and `HANDLERS` (the app's exception handlers) answer
unknown paths, wrong methods, unusable requests, unknown sources, workflows and runs, and
refused run actions with their status. The query parameters the listings share are refused
with a 400 (`BadRequest`) naming the parameter and the value given.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from reconciler.conditions import ConditionStatus
from reconciler.errors import UsageError
from reconciler.reconcile.automation import NotTriggerable, UnknownWorkflow
from reconciler.reconcile.runactions import RunFinished
from reconciler.reconcile.settings import UnknownSource
from reconciler.run.engine import ApprovalRefused
from reconciler.store.interfaces import RunNotFound


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


def _status(status: int) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def answer(request: Request, exc: Exception) -> Response:
        return error(str(exc), status)

    return answer


HANDLERS: Mapping[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
    HTTPException: _http_error,
    BadRequest: _status(400),
    UsageError: _status(400),  # e.g. a run's body, or the workflow engine not running yet
    UnknownSource: _status(404),
    UnknownWorkflow: _status(404),
    RunNotFound: _status(404),
    NotTriggerable: _status(409),
    ApprovalRefused: _status(409),
    RunFinished: _status(409),
}
"""The exception handlers of the app (and of a route group served alone in its tests)."""
