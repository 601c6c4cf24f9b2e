"""Which setting wins: command-line flag > daemon configuration > repository > default,
for each setting the repository's `reconciler.yaml` may carry that the daemon can override."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.reconcile import effective
from reconciler.reconcile.effective import Origin, Setting
from reconciler.reconcile.settings import DaemonSource, Flags, ReconcileSettings
from reconciler.specs import models

SOURCE = {"name": "demo", "path": "/srv/repo", "ref": "main"}


def resolve(
    *,
    flags: dict[str, Any] | None = None,
    source: dict[str, Any] | None = None,
    reconcile: dict[str, Any] | None = None,
    repo: dict[str, Any] | None = None,
) -> effective.Effective:
    return effective.resolve(
        flags=Flags(**(flags or {})),
        source=DaemonSource.model_validate({**SOURCE, **(source or {})}),
        reconcile=ReconcileSettings.model_validate(reconcile or {}),
        repo=None if repo is None else models.SettingsSpec.model_validate(repo),
    )


CASES = [
    # setting, flag, daemon configuration (source or reconcile group), repository, expected
    ("interval", None, None, None, Setting(value="5m", origin=Origin.DEFAULT)),
    ("interval", None, None, {}, Setting(value="5m", origin=Origin.DEFAULT)),
    ("interval", None, None, {"interval": "5m"}, Setting(value="5m", origin=Origin.REPOSITORY)),
    ("interval", None, None, {"interval": "2m"}, Setting(value="2m", origin=Origin.REPOSITORY)),
    ("interval", None, "30s", {"interval": "2m"}, Setting(value="30s", origin=Origin.CONFIG)),
    ("interval", "10s", "30s", {"interval": "2m"}, Setting(value="10s", origin=Origin.FLAG)),
    ("audit_interval", None, None, None, Setting(value="10m", origin=Origin.DEFAULT)),
    (
        "audit_interval",
        None,
        None,
        {"auditInterval": "1h"},
        Setting(value="1h", origin=Origin.REPOSITORY),
    ),
    (
        "audit_interval",
        None,
        "20m",
        {"auditInterval": "1h"},
        Setting(value="20m", origin=Origin.CONFIG),
    ),
    (
        "audit_interval",
        "5s",
        "20m",
        {"auditInterval": "1h"},
        Setting(value="5s", origin=Origin.FLAG),
    ),
    ("self_heal", None, None, None, Setting(value=True, origin=Origin.DEFAULT)),
    ("self_heal", None, None, {"selfHeal": False}, Setting(value=False, origin=Origin.REPOSITORY)),
    ("self_heal", None, True, {"selfHeal": False}, Setting(value=True, origin=Origin.CONFIG)),
    ("self_heal", None, False, {"selfHeal": True}, Setting(value=False, origin=Origin.CONFIG)),
    ("self_heal", False, True, {"selfHeal": True}, Setting(value=False, origin=Origin.FLAG)),
]

_CONFIG_KEY = {
    "interval": ("source", "interval"),
    "audit_interval": ("reconcile", "auditInterval"),
    "self_heal": ("reconcile", "selfHeal"),
}


@pytest.mark.parametrize(("name", "flag", "config", "repo", "expected"), CASES)
def test_the_first_place_that_says_wins(
    name: str, flag: Any, config: Any, repo: dict[str, Any] | None, expected: Setting[Any]
) -> None:
    group, key = _CONFIG_KEY[name]
    found = resolve(
        flags={name: flag} if flag is not None else None,
        repo=repo,
        **({group: {key: config}} if config is not None else {}),
    )
    assert getattr(found, name) == expected


def test_each_setting_resolves_on_its_own() -> None:
    found = resolve(
        flags={"audit_interval": "1s"},
        source={"interval": "45s"},
        repo={"interval": "3m", "auditInterval": "4m", "selfHeal": False},
    )
    assert found == effective.Effective(
        interval=Setting(value="45s", origin=Origin.CONFIG),
        audit_interval=Setting(value="1s", origin=Origin.FLAG),
        self_heal=Setting(value=False, origin=Origin.REPOSITORY),
    )
