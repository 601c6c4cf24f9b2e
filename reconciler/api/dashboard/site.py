"""The dashboard's routes: pages rendered from `dashboard.pages` (which read the store and
the sources' state directly), static assets, and signing in and out. Every page response
carries the CSRF cookie its forms echo; the gate of `api.auth` answers an unauthenticated
page view with `login_401`.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Awaitable, Callable, Mapping

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from reconciler.api import auth, runs
from reconciler.api.dashboard import choices, pages, render, tuning
from reconciler.api.deps import Deps
from reconciler.api.replies import error
from reconciler.reconcile.settings import Role

NAV = (
    ("/", "Overview"),
    ("/resources", "Resources"),
    ("/policies", "Policies"),
    ("/runs", "Runs"),
    ("/decisions", "Decisions"),
    ("/daemon/decisions", "Daemon decisions"),
    ("/approvals", "Approvals"),
    ("/simulations", "Simulations"),
    ("/optimizations", "Optimizations"),
)
PageFn = Callable[[Request], render.Page]


class Dashboard:
    """The dashboard's routes: pages rendered from `dashboard.pages`, static assets, and
    signing in and out. Every page response carries the CSRF cookie its forms echo."""

    def __init__(self, deps: Deps, *, tokens: auth.Tokens) -> None:
        self.deps, self.tokens = deps, tokens
        self.renderer = render.Renderer()

    def routes(self) -> list[BaseRoute]:
        d, q = self.deps, _query
        plain: dict[str, PageFn] = {
            "/": lambda r: pages.overview(d),
            "/resources": lambda r: pages.resources(d, q(r)),
            "/resources/{key:path}": lambda r: pages.resource(d, r.path_params["key"]),
            "/policies": lambda r: pages.policies(d, q(r)),
            "/runs": lambda r: pages.runs(d, q(r)),
            "/runs/{run_id:path}": lambda r: pages.run(d, r.path_params["run_id"]),
            "/decisions": lambda r: pages.decisions(d, q(r)),
            "/daemon/decisions": lambda r: choices.listing(d.store, q(r)),
            "/daemon/decisions/{decision_id}": lambda r: choices.one(
                d.store, r.path_params["decision_id"]
            ),
            "/optimizations": lambda r: tuning.listing(d.store),
            "/optimizations/{optimization_id}": lambda r: tuning.one(
                d.store, r.path_params["optimization_id"]
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
        """The steps waiting for a human, as `GET /api/v1/approvals` lists them: from the
        store, those of every replica's runs."""
        items = await runs.pending(self.deps.store)
        return self.respond(request, pages.approvals(items))

    def static(self, request: Request) -> Response:
        found = render.static_file(request.path_params["name"])
        if found is None:
            return error(f"no such endpoint: GET {request.url.path}", 404)
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
            return error("CSRF token missing or wrong", 403)
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
            return error("CSRF token missing or wrong", 403)
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
