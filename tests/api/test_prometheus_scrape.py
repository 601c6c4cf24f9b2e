"""A real Prometheus scrapes the daemon's /metrics and answers queries about it.

Skipped only where the prometheus binary is missing and `CI` is unset: in CI it must run
(`tests.prometheus.launch`).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.api import live
from tests.prometheus import launch

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@contextlib.contextmanager
def prometheus(tmp_path: Path, *, target: str, text: str | None = None) -> Iterator[httpx.Client]:
    """A Prometheus scraping `target` every second, or running the configuration `text`."""
    config = tmp_path / "prometheus.yml"
    config.write_text(
        text
        or "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: reconciler\n"
        f"    static_configs: [{{targets: ['{target}']}}]\n"
    )
    with launch(tmp_path, config) as url, httpx.Client(base_url=url, timeout=5) as client:
        yield client


def ready(client: httpx.Client) -> bool:
    try:
        return client.get("/-/ready").status_code == 200
    except httpx.TransportError:
        return False


def query(client: httpx.Client, promql: str) -> list[dict[str, Any]]:
    body = client.get("/api/v1/query", params={"query": promql}).json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def by_labels(result: list[dict[str, Any]], *names: str) -> dict[tuple[str, ...], float]:
    return {tuple(r["metric"][n] for n in names): float(r["value"][1]) for r in result}


def test_prometheus_scrapes_the_daemon(tmp_path: Path) -> None:
    live.demo_repo(tmp_path / "repo", out=tmp_path / "out", owned=3, unowned=1)
    settings = live.settings_for(
        tmp_path / "data", {"name": "demo", "path": str(tmp_path / "repo"), "interval": "1h"}
    )
    with live.serve(settings) as served:
        served.wait_for(lambda: served.passes("demo") >= 1, "the first reconcile")
        resources = served.get("/api/v1/resources").json()["resources"]
        ready_true = sum(
            1
            for r in resources
            for c in r["conditions"]
            if (c["type"], c["status"]) == ("Ready", "True")
        )
        assert (len(resources), ready_true) == (4, 3)
        with prometheus(tmp_path, target=f"127.0.0.1:{served.server.port}") as prom:
            served.wait_for(lambda: ready(prom), "Prometheus to be ready", timeout=60)

            def scraped() -> bool:
                return bool(query(prom, 'reconciler_resources{job="reconciler"}'))

            served.wait_for(scraped, "the daemon's series in Prometheus", timeout=60)
            got = by_labels(query(prom, "reconciler_resources"), "source", "condition", "status")
            assert got == {
                ("demo", "Ready", "True"): ready_true,
                ("demo", "Ready", "False"): 1,
                ("demo", "PolicyDenied", "True"): 1,
            }
            violations = query(prom, "reconciler_policy_violations")
            assert by_labels(violations, "policy", "enforcement") == {("files.owner", "strict"): 1}
            runs = query(prom, 'reconciler_reconcile_duration_seconds_count{source="demo"}')
            assert by_labels(runs, "result") == {("succeeded",): 1}
            assert by_labels(query(prom, 'up{job="reconciler"}'), "job") == {("reconciler",): 1}


def test_the_shipped_scrape_config_gets_in_with_the_shipped_metrics_role(tmp_path: Path) -> None:
    """deploy/prometheus.yml against a daemon with the shipped access settings
    (deploy/compose/daemon.yaml: tokens, no public read), only the target, the token file
    and the interval put in for this machine."""
    token = "scraper-secret"
    shipped = yaml.safe_load((DEPLOY / "compose" / "daemon.yaml").read_text())
    tokens = [
        {**t, "sha256": hashlib.sha256(token.encode()).hexdigest()} if t["role"] == "metrics" else t
        for t in shipped["auth"]["tokens"]
    ]
    assert not shipped["auth"].get("publicRead")
    live.demo_repo(tmp_path / "repo", out=tmp_path / "out", owned=1, unowned=0)
    settings = live.settings_for(
        tmp_path / "data",
        {"name": "demo", "path": str(tmp_path / "repo"), "interval": "1h"},
        auth={"tokens": tokens},
    )
    (tmp_path / "token").write_text(token)
    scrape = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    scrape["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    [job] = scrape["scrape_configs"]
    job["authorization"]["credentials_file"] = str(tmp_path / "token")
    with live.serve(settings) as served:
        served.wait_for(lambda: served.passes("demo") >= 1, "the first reconcile")
        assert served.get("/metrics").status_code == 401  # the token is what lets it in
        job["static_configs"] = [{"targets": [f"127.0.0.1:{served.server.port}"]}]
        with prometheus(tmp_path, target="", text=yaml.safe_dump(scrape)) as prom:
            served.wait_for(lambda: ready(prom), "Prometheus to be ready", timeout=60)

            def scraped() -> bool:
                return bool(query(prom, 'reconciler_resources{job="reconciler"}'))

            served.wait_for(scraped, "the daemon's series in Prometheus", timeout=60)
            assert by_labels(query(prom, 'up{job="reconciler"}'), "job") == {("reconciler",): 1}
