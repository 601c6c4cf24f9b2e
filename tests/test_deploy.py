"""The deployment examples load as daemon settings and pass the exposure check they need."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.api import auth
from reconciler.reconcile import settings

ROOT = Path(__file__).resolve().parent.parent


def test_the_settings_file_and_the_configmap_start_beyond_loopback() -> None:
    from_file = settings.load(ROOT / "deploy" / "daemon.yaml")
    configmap = yaml.safe_load((ROOT / "deploy" / "kubernetes" / "configmap.yaml").read_text())
    from_map = settings.DaemonSettings.model_validate(
        yaml.safe_load(configmap["data"]["daemon.yaml"])
    )
    for loaded in (from_file, from_map):
        assert loaded.http.host == "0.0.0.0"
        auth.check_exposure(loaded)  # raises when the daemon would refuse to start
        assert {t.role.value for t in loaded.auth.tokens} == {"operator", "viewer", "metrics"}


DEPLOY = ROOT / "deploy"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _documents(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_every_image_of_ours_is_tagged_with_the_version_never_latest() -> None:
    files = [p for p in DEPLOY.rglob("*") if p.is_file() and p.suffix in {".yaml", ".yml", ""}]
    texts = {p: p.read_text() for p in [*files, DEPLOY / "Dockerfile"]}
    assert not [p for p, t in texts.items() if ":latest" in t]
    compose = _yaml(DEPLOY / "docker-compose.yaml")
    deployment = _yaml(DEPLOY / "kubernetes" / "deployment.yaml")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert (
        compose["services"]["reconciler"]["image"] == container["image"] == f"reconciler:{VERSION}"
    )
    assert compose["services"]["reconciler"]["build"]["args"]["VERSION"] == VERSION
    assert f"ARG VERSION={VERSION}" in texts[DEPLOY / "Dockerfile"]


def test_the_image_installs_the_package_with_postgresql_and_the_signature_tools_as_non_root() -> (
    None
):
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    installs = re.search(r"apt-get install [^\n]*", dockerfile)
    assert installs and {"git", "gnupg", "openssh-client"} <= set(installs.group(0).split())
    assert re.search(r'pip install -c constraints\.txt "\.\[postgresql\]"', dockerfile)
    users = re.findall(r"^USER (\S+)$", dockerfile, flags=re.M)
    assert users and users[-1] not in {"root", "0"}
    for copied in re.findall(r"^COPY (?!--)(\S+)", dockerfile, flags=re.M):
        assert (ROOT / copied).exists(), copied  # the build context is the repository root


def test_the_compose_file_wires_postgresql_prometheus_and_grafana_together() -> None:
    compose = _yaml(DEPLOY / "docker-compose.yaml")
    services = compose["services"]
    assert set(services) == {"postgres", "reconciler", "prometheus", "grafana"}
    for name, service in services.items():
        for dependency in service.get("depends_on", []):
            assert dependency in services, (name, dependency)
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), (name, source)
            else:
                assert source in compose["volumes"], (name, source)
        for secret in service.get("secrets", []):
            assert secret in compose["secrets"], (name, secret)
    daemon = services["reconciler"]
    assert daemon["depends_on"]["postgres"] == {"condition": "service_healthy"}
    mounted = dict(v.split(":")[:2][::-1] for v in daemon["volumes"] if v.startswith("."))
    config = settings.load(DEPLOY / mounted["/etc/reconciler/daemon.yaml"])
    auth.check_exposure(config)
    assert config.store.url_env in daemon["environment"]
    url = daemon["environment"][config.store.url_env]
    postgres = services["postgres"]["environment"]
    assert url.startswith(f"postgresql://{postgres['POSTGRES_USER']}:")
    assert url.endswith(f"@postgres:5432/{postgres['POSTGRES_DB']}")
    assert daemon["command"][-1] == "/etc/reconciler/daemon.yaml"


def test_prometheus_scrapes_the_daemon_with_a_metrics_token_the_compose_file_provides() -> None:
    compose = _yaml(DEPLOY / "docker-compose.yaml")
    prometheus = compose["services"]["prometheus"]
    mounted = dict(v.split(":")[:2][::-1] for v in prometheus["volumes"] if v.startswith("."))
    scrape = _yaml(DEPLOY / mounted["/etc/prometheus/prometheus.yml"])
    [job] = scrape["scrape_configs"]
    [targets] = [c["targets"] for c in job["static_configs"]]
    assert targets == ["reconciler:8080"]
    assert job["metrics_path"] == "/metrics"
    credentials = job["authorization"]["credentials_file"]
    assert credentials == f"/run/secrets/{prometheus['secrets'][0]}"
    daemon = settings.load(DEPLOY / "compose" / "daemon.yaml")
    assert any(t.role.value == "metrics" for t in daemon.auth.tokens)
    assert not daemon.auth.public_read  # so the token is what lets Prometheus in


def _exported_metric_names() -> set[str]:
    from prometheus_client.parser import text_string_to_metric_families

    from reconciler.api import metrics

    state = metrics.StateCounts(resources_by_condition={("s", "Ready", "True"): 1})
    rendered = metrics.Metrics(lambda: state)
    text = rendered.render().decode()
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        kinds = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}
        names.update(family.name + suffix for suffix in kinds.get(family.type, []))
    return names


def test_the_grafana_dashboard_queries_only_metrics_the_daemon_exports() -> None:
    board = json.loads((DEPLOY / "grafana" / "dashboards" / "reconciler.json").read_text())
    exported = _exported_metric_names() | {"up"}
    source = _yaml(DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yaml")
    [datasource] = source["datasources"]
    assert datasource["url"] == "http://prometheus:9090"
    expressions = [t["expr"] for panel in board["panels"] for t in panel["targets"]]
    assert len(expressions) >= 8
    used = {m for e in expressions for m in re.findall(r"\b(reconciler_[a-z_]+|up)\b", e)}
    assert used - exported == set()
    wanted = {
        "reconciler_reconcile_duration_seconds_count",
        "reconciler_reconcile_duration_seconds_bucket",
        "reconciler_policy_decisions_total",
        "reconciler_resources",
        "reconciler_runs_total",
        "reconciler_approvals_waiting",
        "up",
    }
    assert wanted <= used
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == datasource["uid"]
    provider = _yaml(DEPLOY / "grafana" / "provisioning" / "dashboards" / "reconciler.yaml")
    compose = _yaml(DEPLOY / "docker-compose.yaml")
    grafana_volumes = dict(
        v.split(":")[:2][::-1]
        for v in compose["services"]["grafana"]["volumes"]
        if v.startswith(".")
    )
    assert grafana_volumes[provider["providers"][0]["options"]["path"]] == "./grafana/dashboards"


def test_kubernetes_runs_several_replicas_on_postgresql_with_a_budget_and_a_service_monitor() -> (
    None
):
    kube = DEPLOY / "kubernetes"
    deployment = _yaml(kube / "deployment.yaml")
    labels = deployment["spec"]["selector"]["matchLabels"]
    assert deployment["spec"]["replicas"] >= 2
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    configmap = _yaml(kube / "configmap.yaml")
    config = settings.DaemonSettings.model_validate(
        yaml.safe_load(configmap["data"]["daemon.yaml"])
    )
    store_env = env[config.store.url_env]
    assert store_env["valueFrom"]["secretKeyRef"].get("optional") is not True
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    budget = _yaml(kube / "poddisruptionbudget.yaml")
    assert budget["spec"]["selector"]["matchLabels"] == labels
    assert budget["spec"]["minAvailable"] < deployment["spec"]["replicas"]
    service = _yaml(kube / "service.yaml")
    assert service["spec"]["selector"] == labels
    monitor = _yaml(kube / "servicemonitor.yaml")
    assert monitor["spec"]["selector"]["matchLabels"] == service["metadata"]["labels"]
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics" and endpoint["authorization"]["type"] == "Bearer"
    assert any(t.role.value == "metrics" for t in config.auth.tokens)


def _compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    found = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    return found.returncode == 0


@pytest.mark.skipif(not _compose_available(), reason="docker compose is not installed here")
def test_docker_compose_accepts_the_file() -> None:
    done = subprocess.run(
        ["docker", "compose", "-f", str(DEPLOY / "docker-compose.yaml"), "config", "--quiet"],
        env={**os.environ, "RECONCILER_DB_PASSWORD": "x"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
