"""`notifications:` in the daemon settings file: problems name the file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import ProblemsError
from reconciler.reconcile import settings

GOOD = """\
notifications:
  channels:
    - name: ops
      type: webhook
      url: https://hooks.example.org/reconciler
      secretEnv: OPS_HOOK_KEY
  routes:
    - events: [ResourceBlocked, RunUpdated]
      severity: warning
      channels: [ops]
  rateLimit: {perChannel: 10}
  dedupeWindow: 15m
"""


def test_the_settings_file_sets_channels_and_routes(tmp_path: Path) -> None:
    path = tmp_path / "daemon.yaml"
    path.write_text(GOOD)
    loaded = settings.load(path).notifications
    assert [(c.name, c.type.value, c.secret_env) for c in loaded.channels] == [
        ("ops", "webhook", "OPS_HOOK_KEY")
    ]
    assert (loaded.rate_limit.per_channel, loaded.dedupe_window) == (10, "15m")
    assert loaded.routes[0].events == ["ResourceBlocked", "RunUpdated"]


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        (
            GOOD.replace("      secretEnv: OPS_HOOK_KEY\n", ""),
            "daemon.yaml:3 notifications.channels[0]: a webhook channel needs "
            "`url` and `secretEnv` (its signing key)",
        ),
        (
            GOOD.replace("severity: warning", "severity: loud"),
            "daemon.yaml:9 notifications.routes[0].severity: must be one of: info, warning, "
            "critical",
        ),
        (
            GOOD.replace("channels: [ops]", "channels: [pager]"),
            "daemon.yaml:1 notifications: routes[0].channels: no channel named pager",
        ),
    ],
)
def test_a_bad_notification_setting_names_file_line_and_key(
    tmp_path: Path, broken: str, expected: str
) -> None:
    path = tmp_path / "daemon.yaml"
    path.write_text(broken)
    with pytest.raises(ProblemsError) as raised:
        settings.load(path)
    assert str(raised.value).replace(str(tmp_path) + "/", "") == expected
