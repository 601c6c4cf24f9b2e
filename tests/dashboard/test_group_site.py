"""The dashboard's routes served alone behind the access gate (whose sign-in page they
provide): its pages read the store and the services directly, so they need none of the
API's routes, which are not served here."""

from __future__ import annotations

import time
from pathlib import Path

from starlette.middleware import Middleware

from reconciler.api import auth, runs
from reconciler.api.dashboard import site
from reconciler.api.deps import Deps
from tests.api import groups
from tests.dashboard.browser import GATED_WORKFLOW

RUN_WORKFLOW = "/api/v1/workflows/{name}/run"


def test_the_pages_render_without_the_api_beside_them(tmp_path: Path) -> None:
    daemon = groups.daemon_for(tmp_path)
    board = site.Dashboard(Deps.of(daemon), tokens=auth.Tokens(daemon.settings.auth))
    gate = Middleware(auth.Gate, tokens=board.tokens, login_page=board.login_401)
    with groups.serve(daemon, board.routes(), middleware=[gate]) as client:
        for path in ("/", "/resources", "/policies", "/runs", "/decisions", "/simulations"):
            page = client.get(path)
            assert page.status_code == 200, path
            assert page.headers["content-type"].startswith("text/html"), path
        approvals = client.get("/approvals")
        assert approvals.status_code == 200
        assert 'aria-label="Pending approvals"' in approvals.text
        assert client.get("/api/v1/approvals").status_code == 404  # not this group's
        assert client.get("/resources/File/nope").status_code == 404
        static = client.get("/static/nope.css")
        assert (static.status_code, static.json()) == (
            404,
            {"error": "no such endpoint: GET /static/nope.css"},
        )
        assert client.get("/login").status_code == 200


def test_the_approvals_page_lists_a_waiting_step_read_from_the_store(tmp_path: Path) -> None:
    daemon = groups.daemon_for(tmp_path, workflows={"gated.yaml": GATED_WORKFLOW})
    deps = Deps.of(daemon)
    board = site.Dashboard(deps, tokens=auth.Tokens(daemon.settings.auth))
    start = [r for r in runs.routes(deps) if getattr(r, "path", "") == RUN_WORKFLOW]
    gate = Middleware(auth.Gate, tokens=board.tokens, login_page=board.login_401)
    served = groups.serve(daemon, [*board.routes(), *start], middleware=[gate], run_daemon=True)
    with served as client:
        for _ in range(1500):
            started = client.post("/api/v1/workflows/gated/run", json={})
            if started.status_code == 202:
                break
            time.sleep(0.02)  # until the engine runs and the first pass loaded the workflow
        assert started.status_code == 202, started.text
        run_id = started.json()["run"]
        for _ in range(1500):
            if f'href="/runs/{run_id}"' in client.get("/approvals").text:
                break
            time.sleep(0.02)
        page = client.get("/approvals").text
        assert f'href="/runs/{run_id}"' in page and "sign-off" in page and "ship it?" in page
        assert client.get("/api/v1/approvals").status_code == 404  # not served here
