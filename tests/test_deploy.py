"""The deployment examples load as daemon settings and pass the exposure check they need."""

from __future__ import annotations

from pathlib import Path

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
        assert {t.role.value for t in loaded.auth.tokens} == {"operator", "viewer"}
