"""Webhook intake served alone: verification first, a delivery id acted on once, and each
outcome recorded as an event in the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.api import intake
from reconciler.reconcile.daemon import Daemon
from tests.api import groups

TOKEN_ENV = "RECONCILER_TEST_GROUP_TOKEN"


def _outcomes(daemon: Daemon) -> list[str]:
    return [e.data["result"] for e in daemon.store.events(since_id=0, limit=100)]


def test_a_generic_delivery_is_verified_acted_on_once_and_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "t0ken")
    daemon = groups.daemon_for(tmp_path, webhooks={"genericTokenEnv": TOKEN_ENV})
    with groups.served(daemon, intake.routes) as client:
        wrong = client.post("/webhooks/generic", headers={"X-Reconciler-Token": "nope"})
        assert wrong.status_code == 401
        headers = {"X-Reconciler-Token": "t0ken", "X-Request-Id": "d-1"}
        first = client.post("/webhooks/generic", json={"ref": "refs/heads/main"}, headers=headers)
        assert (first.status_code, first.json()) == (202, {"kind": "push", "triggered": ["demo"]})
        again = client.post("/webhooks/generic", json={"ref": "refs/heads/main"}, headers=headers)
        assert (again.status_code, again.json()) == (200, {"kind": "push", "duplicate": True})
        assert _outcomes(daemon) == ["rejected", "accepted", "duplicate"]


def test_webhooks_without_a_configured_secret_are_refused(tmp_path: Path) -> None:
    daemon = groups.daemon_for(tmp_path)
    with groups.served(daemon, intake.routes) as client:
        expected = {
            "/webhooks/github": "GitHub webhook secret is not configured",
            "/webhooks/gitlab": "GitLab webhook token is not configured",
            "/webhooks/generic": "webhook token is not configured",
            "/webhooks/pagerduty": "PagerDuty webhook secret is not configured",
            "/webhooks/opsgenie": "Opsgenie webhook token is not configured",
        }
        for path, message in expected.items():
            refused = client.post(path, content=b"{}")
            assert (refused.status_code, refused.json()) == (401, {"error": message}), path
        assert _outcomes(daemon) == ["rejected"] * 5
