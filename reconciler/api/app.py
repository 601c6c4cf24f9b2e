"""The HTTP app, assembled from its route groups: health and metrics (`health`), the JSON
API of the daemon's state (`state`), workflows, runs and approvals (`runs`), simulations
(`simulations`), webhook intake (`intake`) and the dashboard (`dashboard.site`). Each group
takes the parts of the daemon it needs (`deps.Deps`); the middleware every request passes —
the front door (`frontdoor`: hosts, body limits, security headers) and the access gate
(`auth`: who may do what, CSRF) — and the JSON errors of `replies` are set here, once.
Every error, including unknown paths and wrong methods, is a JSON `{"error": message}`.
"""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette
from starlette.middleware import Middleware

from reconciler.api import (
    auth,
    frontdoor,
    health,
    intake,
    optimizations,
    replies,
    runs,
    simulations,
    state,
)
from reconciler.api.dashboard import site
from reconciler.api.deps import Deps
from reconciler.reconcile.daemon import Daemon


def create_app(daemon: Daemon) -> Starlette:
    """The app; refuses (UsageError) to serve without tokens on a non-loopback address."""
    auth.check_exposure(daemon.settings)
    tokens = auth.Tokens(daemon.settings.auth)
    deps = Deps.of(daemon)
    dashboard = site.Dashboard(deps, tokens=tokens)
    app = Starlette(
        routes=[
            *health.routes(deps),
            *state.routes(deps),
            *runs.routes(deps),
            *simulations.routes(deps.store, simulator=deps.simulations),
            *intake.routes(deps),
            *optimizations.routes(deps),
            *dashboard.routes(),
        ],
        middleware=[
            Middleware(frontdoor.FrontDoor, settings=daemon.settings.http),
            Middleware(auth.Gate, tokens=tokens, login_page=dashboard.login_401),
        ],
        exception_handlers=dict(replies.HANDLERS),
    )
    app.state.stopping = asyncio.Event()  # set by `server.HttpServer` when it stops
    return app
