"""The health and metrics group served alone."""

from __future__ import annotations

from pathlib import Path

from reconciler.api import health
from tests.api import groups


def test_health_ready_and_metrics_alone(tmp_path: Path) -> None:
    daemon = groups.daemon_for(tmp_path)
    with groups.served(daemon, health.routes) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert (ready.status_code, ready.json()) == (
            503,
            {
                "ready": False,
                "sources": {"demo": False},
                "store": True,
                "replica": daemon.membership.name,
                "replicas": [],
                "owners": {},
            },
        )
        daemon.membership.beat()
        [lease] = daemon.store.holders(prefix="replica:")
        beat = lease.renewed_at.isoformat()
        assert client.get("/readyz").json()["replicas"] == [
            {
                "name": daemon.membership.name,
                "lastHeartbeat": beat,
                "live": True,
                "sources": ["demo"],
            }
        ]
        assert client.get("/readyz").json()["owners"] == {"demo": daemon.membership.name}
        scraped = client.get("/metrics")
        assert scraped.status_code == 200
        assert scraped.headers["content-type"].startswith("text/plain")
        assert "reconciler_" in scraped.text
        missing = client.get("/api/v1/sources")
        assert (missing.status_code, missing.json()) == (
            404,
            {"error": "no such endpoint: GET /api/v1/sources"},
        )


def test_readyz_names_the_store_failure_when_the_store_is_closed(tmp_path: Path) -> None:
    daemon = groups.daemon_for(tmp_path)
    with groups.served(daemon, health.routes) as client:
        daemon.store.close()
        ready = client.get("/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert (body["ready"], body["store"]) == (False, False)
        assert body["reason"]
