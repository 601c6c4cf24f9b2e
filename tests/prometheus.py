"""A real Prometheus server (Debian's `prometheus`) scraping a test exporter every 200 ms,
whose gauges the test sets: the series metric triggers and optimizations read are the ones
the test wrote."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
SCRAPE = "200ms"


@dataclass(frozen=True)
class Served:
    url: str
    gauges: dict[str, Gauge]

    def value(self, name: str) -> float | None:
        query = urllib.parse.urlencode({"query": name})
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/query?{query}", timeout=2) as r:
                result = json.load(r)["data"]["result"]
        except OSError:
            return None
        return float(result[0]["value"][1]) if result else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require() -> None:
    """Skip where the prometheus binary is missing, except in CI, where that is a failure."""
    if not Path(PROMETHEUS).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{PROMETHEUS} is missing; .ci/run installs it")
        pytest.skip("prometheus is not installed (apt-get install prometheus)")


@contextlib.contextmanager
def launch(tmp_path: Path, config: Path) -> Iterator[str]:
    """A Prometheus server running `config` on a loopback port; yields its base URL."""
    require()
    port = free_port()
    with (tmp_path / "prometheus.log").open("w") as log:
        process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=log,
        )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def serve(tmp_path: Path, names: list[str]) -> Iterator[Served]:
    require()
    registry = CollectorRegistry()
    gauges = {n: Gauge(n, f"{n} of the app under test", registry=registry) for n in names}
    exporter = free_port()
    server, thread = start_http_server(exporter, addr="127.0.0.1", registry=registry)
    config = tmp_path / "prometheus.yml"
    scrape = {"scrape_interval": SCRAPE, "scrape_timeout": SCRAPE, "evaluation_interval": SCRAPE}
    targets = [{"targets": [f"127.0.0.1:{exporter}"]}]
    config.write_text(
        json.dumps(
            {"global": scrape, "scrape_configs": [{"job_name": "app", "static_configs": targets}]}
        )
    )
    try:
        with launch(tmp_path, config) as url:
            served = Served(url=url, gauges=gauges)
            wait_until(lambda: served.value(names[0]) is not None, "the first scrape", timeout=30)
            yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def wait_until(check: Callable[[], bool], what: str, *, timeout: float = 20) -> float:
    """Poll `check` every 20 ms; the wall time at which it first held."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
    return time.time()
