"""Webhook intake: GitHub, GitLab and generic deliveries (`/webhooks/{forge}`), and the
PagerDuty and Opsgenie incident webhooks of `api.incidents`. A delivery is verified before
its body is parsed; a delivery id seen before is acknowledged once and acted on once (the
store remembers ids across restarts); every outcome is published as a `WebhookReceived`
event. A verified delivery triggers the sources it concerns (`api.hooks`) and may queue
pull-request simulations in the daemon's simulation service.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.api import incidents, webhooks
from reconciler.api.deps import Deps
from reconciler.api.hooks import route_delivery
from reconciler.api.replies import error
from reconciler.events import Event, EventType

FORGES = ("github", "gitlab", "generic")
DELIVERY_ID_HEADERS = {
    "github": "x-github-delivery",
    "gitlab": "x-gitlab-event-uuid",
    "generic": "x-request-id",
}


def routes(deps: Deps) -> list[Route]:
    hooks = [
        Route(f"/webhooks/{forge}", _webhook(deps, forge), methods=["POST"]) for forge in FORGES
    ]
    return [*hooks, *incidents.routes(deps, note=_note, secret=_secret)]


def _webhook(deps: Deps, forge: str) -> Callable[[Request], Awaitable[Response]]:
    async def deliver(request: Request) -> Response:
        try:
            body = await request.body()
            delivery = _verified(forge, request, body, deps)
        except webhooks.WebhookRejected as exc:
            await run_in_threadpool(_note, deps, forge, "rejected")
            return error(str(exc), exc.status)
        if not await run_in_threadpool(_first, deps, forge, request):
            await run_in_threadpool(_note, deps, forge, "duplicate")
            return JSONResponse({"kind": delivery.kind.value, "duplicate": True})
        triggered = route_delivery(deps, delivery)
        started = await run_in_threadpool(deps.simulations.on_delivery, delivery)
        await run_in_threadpool(_note, deps, forge, "accepted")
        body_out: dict[str, Any] = {"kind": delivery.kind.value, "triggered": triggered}
        if delivery.kind is webhooks.Kind.PULL_REQUEST:
            body_out["simulations"] = started
        return JSONResponse(body_out, status_code=202)

    return deliver


def _secret(env_name: str | None, what: str) -> str:
    value = os.environ.get(env_name) if env_name else None
    if not value:
        raise webhooks.WebhookRejected(f"{what} is not configured", status=401)
    return value


def _verified(forge: str, request: Request, body: bytes, deps: Deps) -> webhooks.Delivery:
    """Verify before parsing: nothing unverified is even read as JSON."""
    hooks = deps.settings.webhooks
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


def _first(deps: Deps, forge: str, request: Request) -> bool:
    """False for a delivery id already acknowledged (a retry or a replay); remembered in
    the store, so this holds across restarts. A delivery without an id is always new."""
    delivery_id = request.headers.get(DELIVERY_ID_HEADERS[forge], "").strip()
    if not delivery_id:
        return True
    return deps.store.first_delivery(forge, delivery_id, at=deps.clock.now())


def _note(deps: Deps, forge: str, result: str) -> None:
    """Publish the delivery's outcome (the store writes it: call off the event loop)."""
    deps.bus.publish(
        Event(
            type=EventType.WEBHOOK_RECEIVED,
            at=deps.clock.now(),
            source="",
            message=f"{forge} webhook {result}",
            data={"forge": forge, "result": result},
        )
    )
