"""Access control over HTTP: bearer tokens with roles, public reads, the open loopback
mode, the sign-in cookie with CSRF double submit, refusing exposure, and the CLI's token."""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.api import app as web
from reconciler.api import auth
from reconciler.cli import client
from reconciler.clock import SystemClock
from reconciler.errors import ProblemsError, UsageError
from reconciler.reconcile import settings
from reconciler.reconcile.daemon import Daemon
from reconciler.reconcile.settings import AuthSettings
from tests.api import live

VIEWER, OPERATOR, ADMIN, SCRAPER = "v-token", "o-token", "a-token", "m-token"


def entry(name: str, role: str, token: str) -> dict[str, str]:
    return {"name": name, "role": role, "sha256": hashlib.sha256(token.encode()).hexdigest()}


TOKENS = [
    entry("vera", "viewer", VIEWER),
    entry("otto", "operator", OPERATOR),
    entry("ada", "admin", ADMIN),
    entry("prometheus", "metrics", SCRAPER),
]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def source(tmp_path: Path, repo: Path) -> dict[str, Any]:
    return {"name": "demo", "path": str(repo), "ref": "main", "interval": "1h"}


@pytest.fixture
def guarded(tmp_path: Path, repo: Path) -> Iterator[live.Live]:
    settings = live.settings_for(tmp_path / "data", source(tmp_path, repo), auth={"tokens": TOKENS})
    with live.serve(settings, run_daemon=False) as running:
        yield running


def test_the_api_needs_a_token_and_says_so(guarded: live.Live) -> None:
    r = guarded.get("/api/v1/sources")
    assert (r.status_code, r.json()) == (
        401,
        {"error": "authentication required: send a bearer token"},
    )
    assert r.headers["www-authenticate"] == 'Bearer realm="reconciler"'
    assert guarded.get("/api/v1/sources", headers=bearer("wrong")).status_code == 401
    assert guarded.get("/metrics").status_code == 401


def test_probes_and_webhooks_are_not_behind_tokens(guarded: live.Live) -> None:
    assert guarded.get("/healthz").status_code == 200
    hook = guarded.post("/webhooks/generic")
    assert (hook.status_code, hook.json()) == (401, {"error": "webhook token is not configured"})


@pytest.mark.parametrize("token", [VIEWER, OPERATOR, ADMIN])
def test_every_role_reads(guarded: live.Live, token: str) -> None:
    r = guarded.get("/api/v1/sources", headers=bearer(token))
    assert (r.status_code, [s["name"] for s in r.json()["sources"]]) == (200, ["demo"])


def test_a_metrics_token_scrapes_the_metrics_and_reads_nothing_else(guarded: live.Live) -> None:
    scraped = guarded.get("/metrics", headers=bearer(SCRAPER))
    assert scraped.status_code == 200 and "reconciler_" in scraped.text
    for path in ("/api/v1/sources", "/api/v1/resources", "/api/v1/audit", "/"):
        r = guarded.get(path, headers=bearer(SCRAPER) | {"Accept": "application/json"})
        assert (r.status_code, r.json()) == (
            403,
            {"error": f"prometheus (metrics) may not GET {path}: needs the viewer role"},
        )
    assert guarded.post("/api/v1/sync", headers=bearer(SCRAPER)).status_code == 403


def test_a_viewer_may_not_change_anything(guarded: live.Live) -> None:
    for path in ("/api/v1/sync", "/api/v1/sources/demo/suspend"):
        r = guarded.post(path, headers=bearer(VIEWER))
        assert (r.status_code, r.json()) == (
            403,
            {"error": f"vera (viewer) may not POST {path}: needs the operator role"},
        )
    assert guarded.triggers == []


@pytest.mark.parametrize("token", [OPERATOR, ADMIN])
def test_operators_and_admins_change_things(guarded: live.Live, token: str) -> None:
    r = guarded.post("/api/v1/sources/demo/sync", headers=bearer(token))
    assert (r.status_code, guarded.triggers) == (202, [("demo", "api")])


def test_public_read_opens_reads_only(tmp_path: Path, repo: Path) -> None:
    settings = live.settings_for(
        tmp_path / "data", source(tmp_path, repo), auth={"tokens": TOKENS, "publicRead": True}
    )
    with live.serve(settings, run_daemon=False) as running:
        assert running.get("/api/v1/resources").status_code == 200
        assert running.get("/").status_code == 200
        assert running.post("/api/v1/sync").status_code == 401


def test_a_dashboard_page_without_a_token_answers_with_the_sign_in_form(
    guarded: live.Live,
) -> None:
    r = guarded.get("/runs", headers={"Accept": "text/html"})
    assert r.status_code == 401
    assert '<input type="hidden" name="next" value="/runs">' in r.text
    assert "SameSite=Strict" in r.headers["set-cookie"]


def sign_in(running: live.Live, token: str) -> httpx.Response:
    form = running.get("/login")
    csrf = running.client.cookies[auth.CSRF_COOKIE]
    assert f'name="csrf_token" value="{csrf}"' in form.text
    return running.post("/login", data={"csrf_token": csrf, "token": token, "next": "/runs"})


def test_signing_in_sets_an_httponly_strict_cookie(guarded: live.Live) -> None:
    r = sign_in(guarded, OPERATOR)
    assert (r.status_code, r.headers["location"]) == (303, "/runs")
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{auth.SESSION_COOKIE}={OPERATOR};")
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
    assert guarded.get("/runs").status_code == 200


def test_signing_in_with_a_wrong_token_or_without_the_csrf_token_fails(
    guarded: live.Live,
) -> None:
    assert sign_in(guarded, "nope").status_code == 401
    r = guarded.post("/login", data={"token": OPERATOR})
    assert (r.status_code, r.json()) == (403, {"error": "CSRF token missing or wrong"})
    assert auth.SESSION_COOKIE not in guarded.client.cookies


def test_a_cookie_authenticated_change_needs_the_csrf_header(guarded: live.Live) -> None:
    sign_in(guarded, OPERATOR)
    refused = guarded.post("/api/v1/sync")
    assert (refused.status_code, refused.json()) == (403, {"error": "CSRF token missing or wrong"})
    wrong = guarded.post("/api/v1/sync", headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    assert guarded.triggers == []
    csrf = guarded.client.cookies[auth.CSRF_COOKIE]
    ok = guarded.post("/api/v1/sync", headers={"X-CSRF-Token": csrf})
    assert (ok.status_code, guarded.triggers) == (202, [("demo", "api")])


def test_without_tokens_loopback_is_open_but_browsers_need_the_csrf_token(
    tmp_path: Path, repo: Path
) -> None:
    settings = live.settings_for(tmp_path / "data", source(tmp_path, repo))
    with live.serve(settings, run_daemon=False) as running:
        assert running.get("/api/v1/sources").status_code == 200
        assert running.post("/api/v1/sync").status_code == 202
        forged = running.post("/api/v1/sync", headers={"Origin": "http://evil.example"})
        assert (forged.status_code, forged.json()) == (
            403,
            {"error": "CSRF token missing or wrong"},
        )
        assert running.triggers == [("demo", "api")]


@pytest.mark.parametrize(
    ("host", "extra", "refused"),
    [
        ("0.0.0.0", {}, True),
        ("192.0.2.7", {}, True),
        ("0.0.0.0", {"allowAnonymous": True}, False),
        ("0.0.0.0", {"tokens": TOKENS}, False),
        ("::1", {}, False),
        ("localhost", {}, False),
    ],
)
def test_serving_without_tokens_beyond_loopback_is_refused(
    tmp_path: Path, host: str, extra: dict[str, Any], refused: bool
) -> None:
    settings = live.settings_for(tmp_path / "data", http={"host": host}, auth=extra)
    daemon = Daemon(settings, clock=SystemClock())
    try:
        if refused:
            with pytest.raises(UsageError) as exc:
                web.create_app(daemon)
            assert str(exc.value) == (
                f"refusing to listen on {host} without access control: configure auth.tokens, "
                "listen on a loopback address, or set auth.allowAnonymous: true"
            )
        else:
            web.create_app(daemon)
    finally:
        daemon.store.close()


def test_a_token_hash_must_be_64_hex_digits(tmp_path: Path) -> None:
    config = tmp_path / "daemon.yaml"
    config.write_text("auth:\n  tokens:\n    - {name: x, role: viewer, sha256: abc}\n")
    with pytest.raises(ProblemsError) as exc:
        settings.load(config)
    assert str(exc.value) == (f"{config}:3 auth.tokens[0].sha256: must match ^[0-9a-f]{{64}}$")


def test_identify_finds_the_token_by_its_hash() -> None:
    tokens = auth.Tokens(AuthSettings.model_validate({"tokens": TOKENS}))
    assert tokens.identify(OPERATOR) == auth.Principal(name="otto", role=auth.Role.OPERATOR)
    assert tokens.identify("o-token ") is None and tokens.identify(None) is None
    assert auth.hash_token("test") == (
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    )


def test_the_cli_sends_its_token(
    guarded: live.Live, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = argparse.Namespace(url=guarded.base_url, token=OPERATOR, cacert=None, source="demo")
    assert client.run_sync(args) == 0
    assert capsys.readouterr().out == "sync requested: demo\n"
    with pytest.raises(UsageError) as exc:
        client.run_sync(
            argparse.Namespace(url=guarded.base_url, token=VIEWER, cacert=None, source=None)
        )
    assert str(exc.value) == (
        "POST /api/v1/sync: HTTP 403: vera (viewer) may not POST /api/v1/sync: "
        "needs the operator role"
    )
    monkeypatch.setenv("RECONCILER_TOKEN", VIEWER)
    parser = argparse.ArgumentParser()
    client.add_arguments(parser)
    assert parser.parse_args([]).token == VIEWER


def test_the_token_hash_verb_prints_the_sha256_from_stdin() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "token", "hash"],
        input="test\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout) == (
        0,
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n",
    )
