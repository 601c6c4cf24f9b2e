"""The HTTP surface (Starlette): health, metrics, the read-only JSON API, sync/suspend
actions, forge webhooks, the OpenAPI document, the live event stream and the dashboard,
behind the access gate of `api.auth`. The only module importing the web framework.

Store reads are blocking (SQLite), so those endpoints are plain functions, which Starlette
runs on its thread pool; anything touching the daemon's triggers (asyncio events) runs on
the event loop, and publishing an event (which writes the store) goes back to a thread.
Every error, including unknown paths and wrong methods, is a JSON `{"error": message}`.
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.parse
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import BaseRoute, Route

from reconciler.api import (
    audit,
    auth,
    cache,
    daemon_decisions,
    frontdoor,
    incidents,
    metrics,
    openapi,
    runs,
    simulations,
    views,
    webhooks,
)
from reconciler.api.dashboard import choices, pages, render, stream
from reconciler.api.hooks import route_delivery
from reconciler.conditions import ConditionStatus, Type
from reconciler.events import Event, EventType
from reconciler.reconcile.daemon import Daemon
from reconciler.reconcile.settings import Role, UnknownSource
from reconciler.store.base import StoreError

FORGES = ("github", "gitlab", "generic")


class BadQuery(ValueError):
    """A query parameter has a value the endpoint cannot use (400)."""


def _error(message: str, status: int, headers: Mapping[str, str] | None = None) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def count_param(query: Mapping[str, str], name: str, *, default: int, most: int) -> int:
    """A non-negative integer parameter; values above `most` are capped at it."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadQuery(f"query parameter {name}: must be an integer, got {raw!r}") from None
    if value < 0:
        raise BadQuery(f"query parameter {name}: must not be negative, got {value}")
    return min(value, most)


def status_param(query: Mapping[str, str]) -> ConditionStatus:
    raw = query.get("status") or ConditionStatus.TRUE.value
    try:
        return ConditionStatus(raw)
    except ValueError:
        allowed = ", ".join(s.value for s in ConditionStatus)
        raise BadQuery(f"query parameter status: must be one of {allowed}, got {raw!r}") from None


def create_app(daemon: Daemon) -> Starlette:
    """The app; refuses (UsageError) to serve without tokens on a non-loopback address."""
    auth.check_exposure(daemon.settings)
    tokens = auth.Tokens(daemon.settings.auth)
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
    rendered = cache.RenderCache()
    daemon.bus.subscribe(rendered.observe)
    simulator = daemon.simulations

    def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    def readyz(request: Request) -> Response:
        sources = {name: r.ready for name, r in daemon.runners.items()}
        body: dict[str, Any] = {"sources": sources, "store": True}
        try:
            store.probe_write(at=daemon.clock.now())
        except StoreError as exc:
            body.update(store=False, reason=str(exc))
        # The probe rewrites one row in place; a pass's writes need room the probe does not.
        failed = _store_failure(daemon)
        if body["store"] and failed:
            body.update(store=False, reason=failed)
        ready = body["store"] and all(sources.values())
        return JSONResponse({"ready": ready, **body}, status_code=200 if ready else 503)

    def metrics_endpoint(request: Request) -> Response:
        return Response(prom.render(), media_type=metrics.CONTENT_TYPE)

    def sources(request: Request) -> Response:
        return JSONResponse({"sources": [views.source(r.state) for r in daemon.runners.values()]})

    def one_source(request: Request) -> Response:
        return JSONResponse(views.source(daemon.runner(request.path_params["name"]).state))

    def source_action(action: str) -> Callable[[Request], Awaitable[Response]]:
        async def act(request: Request) -> Response:
            name = request.path_params["name"]
            runner = daemon.runner(name)
            if action == "sync":
                daemon.request_sync(name, reason=_sync_reason(request))
            else:
                runner.set_suspended(action == "suspend")
            return JSONResponse({"source": name, "action": action}, status_code=202)

        return act

    async def sync_all(request: Request) -> Response:
        triggered = daemon.request_sync(reason=_sync_reason(request))
        return JSONResponse({"triggered": triggered}, status_code=202)

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
            return _error(f'no resource "{key}"', 404)
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

    def webhook(forge: str) -> Callable[[Request], Awaitable[Response]]:
        async def deliver(request: Request) -> Response:
            try:
                body = await request.body()
                delivery = _verified(forge, request, body, daemon)
            except webhooks.WebhookRejected as exc:
                await run_in_threadpool(_note, daemon, forge, "rejected")
                return _error(str(exc), exc.status)
            if not await run_in_threadpool(_first, daemon, forge, request):
                await run_in_threadpool(_note, daemon, forge, "duplicate")
                return JSONResponse({"kind": delivery.kind.value, "duplicate": True})
            triggered = route_delivery(daemon, delivery)
            started = await run_in_threadpool(simulator.on_delivery, delivery)
            await run_in_threadpool(_note, daemon, forge, "accepted")
            body_out: dict[str, Any] = {"kind": delivery.kind.value, "triggered": triggered}
            if delivery.kind is webhooks.Kind.PULL_REQUEST:
                body_out["simulations"] = started
            return JSONResponse(body_out, status_code=202)

        return deliver

    actions = [
        Route(f"/api/v1/sources/{{name}}/{action}", source_action(action), methods=["POST"])
        for action in ("sync", "suspend", "resume")
    ]
    hooks = [Route(f"/webhooks/{forge}", webhook(forge), methods=["POST"]) for forge in FORGES]
    hooks += incidents.routes(daemon, note=_note, secret=_secret)
    extra = [
        *runs.routes(daemon),
        *daemon_decisions.routes(daemon.store),
        *audit.routes(daemon.store),
        *(_mounted(e) for e in simulations.routes(daemon.store, simulator=simulator)),
    ]
    document = openapi.document(
        extra_paths={
            **runs.openapi_paths(),
            **daemon_decisions.openapi_paths(),
            **audit.openapi_paths(),
            **incidents.openapi_paths(),
            **simulations.openapi_paths(),
        }
    )

    def openapi_json(request: Request) -> Response:
        return JSONResponse(document)

    async def event_stream(request: Request) -> Response:
        return StreamingResponse(
            stream.events(daemon.bus, stop=app.state.stopping),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    site = Dashboard(daemon, tokens=tokens, extra=extra)
    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
            Route("/api/v1/sources", sources),
            Route("/api/v1/sources/{name}", one_source),
            *actions,
            Route("/api/v1/sync", sync_all, methods=["POST"]),
            Route("/api/v1/resources", resources),
            Route("/api/v1/resources/{key:path}", one_resource),
            Route("/api/v1/decisions", decisions),
            Route("/api/v1/violations", violations),
            Route("/api/v1/events", events),
            Route("/api/v1/runs", list_runs),
            Route("/api/v1/openapi.json", openapi_json),
            Route("/api/v1/stream", event_stream),
            *extra,
            *hooks,
            *site.routes(),
        ],
        middleware=[
            Middleware(frontdoor.FrontDoor, settings=daemon.settings.http),
            Middleware(auth.Gate, tokens=tokens, login_page=site.login_401),
        ],
        exception_handlers={
            HTTPException: _http_error,
            BadQuery: _bad_query,
            UnknownSource: _unknown_source,
        },
    )
    app.state.stopping = asyncio.Event()  # set by `server.HttpServer` when it stops
    return app


def _store_failure(daemon: Daemon) -> str | None:
    """Why the last pass of a source could not write the store, if one could not."""
    for runner in daemon.runners.values():
        for failure in runner.state.failures:
            if failure.type is Type.STORE_FAILED:
                return failure.message
    return None


def _mounted(endpoint: simulations.Endpoint) -> Route:
    """A framework-free endpoint as a route: role checked, handler run on the thread pool."""

    async def handle(request: Request) -> Response:
        principal = getattr(request.state, "principal", None)
        role = endpoint.role
        if role is not None and isinstance(principal, auth.Principal) and not principal.may(role):
            return _error(
                f"{principal.name} ({principal.role}) may not {request.method} "
                f"{request.url.path}: needs the {role} role",
                403,
            )
        call = simulations.Call(
            params=dict(request.path_params),
            query=dict(request.query_params),
            body=await request.body(),
            principal=principal,
        )
        reply = await run_in_threadpool(endpoint.handle, call)
        if reply.media_type == "application/json":
            return JSONResponse(reply.body, status_code=reply.status)
        return Response(reply.body, status_code=reply.status, media_type=reply.media_type)

    return Route(endpoint.path, handle, methods=[endpoint.method])


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return _error(f"no such endpoint: {request.method} {request.url.path}", 404)
    if exc.status_code == 405:
        return _error(f"method {request.method} not allowed", 405, exc.headers)
    return _error(str(exc.detail), exc.status_code, exc.headers)


async def _bad_query(request: Request, exc: Exception) -> Response:
    return _error(str(exc), 400)


async def _unknown_source(request: Request, exc: Exception) -> Response:
    return _error(str(exc), 404)


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


DELIVERY_ID_HEADERS = {
    "github": "x-github-delivery",
    "gitlab": "x-gitlab-event-uuid",
    "generic": "x-request-id",
}


def _first(daemon: Daemon, forge: str, request: Request) -> bool:
    """False for a delivery id already acknowledged (a retry or a replay); remembered in
    the store, so this holds across restarts. A delivery without an id is always new."""
    delivery_id = request.headers.get(DELIVERY_ID_HEADERS[forge], "").strip()
    if not delivery_id:
        return True
    return daemon.store.first_delivery(forge, delivery_id, at=daemon.clock.now())


def _note(daemon: Daemon, forge: str, result: str) -> None:
    """Publish the delivery's outcome (the store writes it: call off the event loop)."""
    daemon.bus.publish(
        Event(
            type=EventType.WEBHOOK_RECEIVED,
            at=daemon.clock.now(),
            source="",
            message=f"{forge} webhook {result}",
            data={"forge": forge, "result": result},
        )
    )


NAV = (
    ("/", "Overview"),
    ("/resources", "Resources"),
    ("/policies", "Policies"),
    ("/runs", "Runs"),
    ("/decisions", "Decisions"),
    ("/daemon/decisions", "Daemon decisions"),
    ("/approvals", "Approvals"),
    ("/simulations", "Simulations"),
)
PageFn = Callable[[Request], render.Page]


class Dashboard:
    """The dashboard's routes: pages rendered from `dashboard.pages`, static assets, and
    signing in and out. Every page response carries the CSRF cookie its forms echo."""

    def __init__(self, daemon: Daemon, *, tokens: auth.Tokens, extra: list[BaseRoute]) -> None:
        self.daemon, self.tokens, self.extra = daemon, tokens, extra
        self.renderer = render.Renderer()

    def routes(self) -> list[BaseRoute]:
        d, q = self.daemon, _query
        plain: dict[str, PageFn] = {
            "/": lambda r: pages.overview(d),
            "/resources": lambda r: pages.resources(d, q(r)),
            "/resources/{key:path}": lambda r: pages.resource(d, r.path_params["key"]),
            "/policies": lambda r: pages.policies(d, q(r)),
            "/runs": lambda r: pages.runs(d, q(r)),
            "/runs/{run_id:path}": lambda r: pages.run(d, r.path_params["run_id"]),
            "/decisions": lambda r: pages.decisions(d, q(r)),
            "/daemon/decisions": lambda r: choices.listing(d, q(r)),
            "/daemon/decisions/{decision_id}": lambda r: choices.one(
                d, r.path_params["decision_id"]
            ),
            "/simulations": lambda r: pages.simulations(d),
            "/simulations/{sim_id}": lambda r: pages.simulation(d, r.path_params["sim_id"]),
        }
        return [
            *(Route(path, self._page(fn)) for path, fn in plain.items()),
            Route("/approvals", self.approvals),
            Route("/static/{name}", self.static),
            Route("/favicon.ico", self.favicon),
            Route("/login", self.login_form),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
        ]

    def _page(self, build: PageFn) -> Callable[[Request], Awaitable[Response]]:
        async def page(request: Request) -> Response:
            return self.respond(request, await run_in_threadpool(build, request))

        return page

    def respond(self, request: Request, page: render.Page) -> Response:
        csrf = request.cookies.get(auth.CSRF_COOKIE) or auth.new_secret()
        principal: auth.Principal = request.state.principal
        body = self.renderer.render(
            page,
            csrf=csrf,
            user=None if self.tokens.open else principal,
            signed_in=auth.SESSION_COOKIE in request.cookies,
            nav=NAV,
            active=request.url.path,
            live=page.template != "login.html",
            can_operate=principal.may(Role.OPERATOR),
        )
        response = HTMLResponse(
            body, status_code=page.status, headers={"Cache-Control": "no-store"}
        )
        if request.cookies.get(auth.CSRF_COOKIE) != csrf:
            _cookie(response, request, auth.CSRF_COOKIE, csrf)
        return response

    async def approvals(self, request: Request) -> Response:
        found = await _internal_get(request, self.extra, "/api/v1/approvals")
        items = found.get("approvals", []) if isinstance(found, dict) else []
        return self.respond(request, pages.approvals(items, available=found is not None))

    def static(self, request: Request) -> Response:
        found = render.static_file(request.path_params["name"])
        if found is None:
            return _error(f"no such endpoint: GET {request.url.path}", 404)
        return Response(found[0], media_type=found[1], headers={"Cache-Control": "no-cache"})

    def favicon(self, request: Request) -> Response:
        """Browsers ask for `/favicon.ico` on every document without an icon link (the
        API's JSON, a report's Markdown): the dashboard's icon, not a 404."""
        found = render.static_file(render.FAVICON)
        assert found is not None, "the icon ships in the static folder"
        return Response(found[0], media_type=found[1], headers={"Cache-Control": "max-age=86400"})

    def login_401(self, path: str) -> tuple[bytes, dict[str, str]]:
        """The sign-in page the gate answers an unauthenticated page view with."""
        csrf = auth.new_secret()
        page = pages.login(next_path=path, open_mode=False, status=401)
        body = self.renderer.render(
            page,
            csrf=csrf,
            user=None,
            signed_in=False,
            nav=NAV,
            active="/login",
            live=False,
            can_operate=False,
        )
        cookie = f"{auth.CSRF_COOKIE}={csrf}; Path=/; HttpOnly; SameSite=Strict"
        return body.encode(), {"set-cookie": cookie, "cache-control": "no-store"}

    def login_form(self, request: Request) -> Response:
        page = pages.login(
            next_path=request.query_params.get("next", "/"), open_mode=self.tokens.open
        )
        return self.respond(request, page)

    async def login(self, request: Request) -> Response:
        form = await _form(request)
        next_path = pages.login(next_path=form.get("next", "/"), open_mode=False).context["next"]
        if not auth.csrf_ok(
            cookie=request.cookies.get(auth.CSRF_COOKIE), presented=form.get("csrf_token")
        ):
            return _error("CSRF token missing or wrong", 403)
        principal = self.tokens.identify(form.get("token"))
        if principal is None:
            page = pages.login(
                next_path=next_path,
                error="That token is not valid.",
                open_mode=self.tokens.open,
                status=401,
            )
            return self.respond(request, page)
        response = RedirectResponse(next_path, status_code=303)
        _cookie(response, request, auth.SESSION_COOKIE, form["token"])
        return response

    async def logout(self, request: Request) -> Response:
        form = await _form(request)
        if not auth.csrf_ok(
            cookie=request.cookies.get(auth.CSRF_COOKIE), presented=form.get("csrf_token")
        ):
            return _error("CSRF token missing or wrong", 403)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(auth.SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return response


def _query(request: Request) -> Mapping[str, str]:
    return request.query_params


def _cookie(response: Response, request: Request, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


async def _form(request: Request) -> dict[str, str]:
    """A small urlencoded form (sign-in), parsed without extra dependencies; its size is
    bounded while it streams by `frontdoor.FrontDoor`."""
    body = await request.body()
    parsed = urllib.parse.parse_qs(body.decode(errors="replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


async def _internal_get(request: Request, routes: list[BaseRoute], path: str) -> Any:
    """GET `path` from `routes` in-process as the same caller; None if no route serves it."""
    if not any(getattr(r, "path", None) == path for r in routes):
        return None
    scope = {
        **request.scope,
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"accept", b"application/json")],
    }
    chunks: list[bytes] = []
    status = [0]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Mapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status[0] = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await request.app.router(scope, receive, send)
    if status[0] != 200:
        return {}
    try:
        return json.loads(b"".join(chunks))
    except ValueError:
        return {}


def _sync_reason(request: Request) -> str:
    """What a requested sync is recorded as coming from: `cli` when `reconciler sync` asked
    (`?trigger=cli`), else `api`."""
    return "cli" if request.query_params.get("trigger") == "cli" else "api"
