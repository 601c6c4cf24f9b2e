"""The HTTP surface (Starlette): health, metrics, the read-only JSON API, sync/suspend
actions and forge webhooks. The only module importing the web framework.

Store reads are blocking (SQLite), so those endpoints are plain functions, which Starlette
runs on its thread pool; anything touching the daemon's triggers runs on the event loop.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.api import metrics, views, webhooks
from reconciler.api.hooks import route_delivery
from reconciler.events import Event, EventType
from reconciler.policy.decisions import Outcome
from reconciler.reconcile.daemon import Daemon, UnknownSource


def _int(request: Request, name: str, default: int, *, most: int = 1000) -> int:
    try:
        return max(0, min(most, int(request.query_params.get(name, default))))
    except ValueError:
        return default


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
        try:
            return JSONResponse(views.source(daemon.runner(request.path_params["name"]).state))
        except UnknownSource as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)

    async def source_action(request: Request) -> Response:
        name, action = request.path_params["name"], request.path_params["action"]
        try:
            runner = daemon.runner(name)
        except UnknownSource as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        if action == "sync":
            daemon.request_sync(name, reason="api")
        elif action in ("suspend", "resume"):
            runner.set_suspended(action == "suspend")
        else:
            return JSONResponse({"error": f"unknown action {action!r}"}, status_code=404)
        return JSONResponse({"source": name, "action": action}, status_code=202)

    async def sync_all(request: Request) -> Response:
        return JSONResponse({"triggered": daemon.request_sync(reason="api")}, status_code=202)

    def resources(request: Request) -> Response:
        q = request.query_params
        items = store.list_status(source=q.get("source"), condition=q.get("condition"))
        return JSONResponse({"resources": [views.resource(s) for s in items]})

    def one_resource(request: Request) -> Response:
        status = store.get_status(request.path_params["key"])
        if status is None:
            return JSONResponse({"error": "no such resource"}, status_code=404)
        return JSONResponse(views.resource(status))

    def decisions(request: Request) -> Response:
        q = request.query_params
        found = store.decisions(
            policy=q.get("policy"), key=q.get("key"), limit=_int(request, "limit", 100)
        )
        return JSONResponse({"decisions": [d.as_json() for d in found]})

    def violations(request: Request) -> Response:
        found = store.violations(policy=request.query_params.get("policy"))
        return JSONResponse(
            {
                "violations": [
                    d.as_json() for d in found if d.outcome in (Outcome.DENY, Outcome.ERROR)
                ]
            }
        )

    def events(request: Request) -> Response:
        found = store.events(
            since_id=_int(request, "since", 0, most=2**62), limit=_int(request, "limit", 100)
        )
        return JSONResponse({"events": [views.event(e) for e in found]})

    def runs(request: Request) -> Response:
        found = store.list_runs(limit=_int(request, "limit", 50))
        return JSONResponse({"runs": [views.run(r) for r in found]})

    async def webhook(request: Request) -> Response:
        forge = request.path_params["forge"]
        body = await request.body()
        try:
            delivery = _verified(forge, request, body, daemon)
        except webhooks.WebhookRejected as exc:
            _note(daemon, forge, "rejected")
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        triggered = route_delivery(daemon, delivery)
        _note(daemon, forge, "accepted")
        return JSONResponse({"kind": delivery.kind.value, "triggered": triggered}, status_code=202)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
            Route("/api/v1/sources", sources),
            Route("/api/v1/sources/{name}", one_source),
            Route("/api/v1/sources/{name}/{action}", source_action, methods=["POST"]),
            Route("/api/v1/sync", sync_all, methods=["POST"]),
            Route("/api/v1/resources", resources),
            Route("/api/v1/resources/{key:path}", one_resource),
            Route("/api/v1/decisions", decisions),
            Route("/api/v1/violations", violations),
            Route("/api/v1/events", events),
            Route("/api/v1/runs", runs),
            Route("/webhooks/{forge}", webhook, methods=["POST"]),
        ]
    )


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
    if forge == "generic":
        given = (
            headers.get("x-reconciler-token")
            or headers.get("authorization", "").removeprefix("Bearer ").strip()
            or None
        )
        webhooks.verify_token(
            given,
            token=_secret(hooks.generic_token_env, "webhook token"),
            header="X-Reconciler-Token",
        )
        payload: dict[str, Any] = webhooks.load_json(body) if body.strip() else {}
        return webhooks.parse_generic(payload)
    raise webhooks.WebhookRejected(f"unknown webhook {forge!r}", status=404)


def _note(daemon: Daemon, forge: str, result: str) -> None:
    daemon.bus.publish(
        Event(
            type=EventType.WEBHOOK_RECEIVED,
            at=daemon.clock.now(),
            source="",
            message=f"{forge} webhook {result}",
            data={"forge": forge, "result": result},
        )
    )
