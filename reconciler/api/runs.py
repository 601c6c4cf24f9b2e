"""Workflow runs and approvals over HTTP: starting, cancelling and resuming workflow runs,
listing the steps waiting for a human (`GET /api/v1/approvals`) and answering them
(`POST /api/v1/approvals/{run_id}/{step}`, operator role; the approver is the caller,
`request.state.principal.name`). `api.app` mounts `routes(daemon)` and adds
`openapi_paths()` to the API description; both are empty until those endpoints land.
"""

from __future__ import annotations

from typing import Any

from reconciler.reconcile.daemon import Daemon


def routes(daemon: Daemon) -> list[Any]:
    """The Starlette routes of the run and approval endpoints."""
    return []


def openapi_paths() -> dict[str, Any]:
    """OpenAPI path items of the endpoints `routes` returns (see `api.openapi`)."""
    return {}
