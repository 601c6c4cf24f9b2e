"""`reconciler serve` options that decide the settings: bad values stop it before it starts,
and the settings options become flags that win over the file and the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler import cli as entry
from reconciler.cli import app, serve
from reconciler.reconcile.settings import Flags


@pytest.mark.parametrize("option", ["--interval", "--audit-interval"])
@pytest.mark.parametrize("value", ["0s", "soon"])
def test_an_interval_that_is_not_a_positive_duration_is_refused(
    option: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert entry.main(["serve", str(tmp_path), option, value]) == 1
    err = capsys.readouterr().err
    assert err.endswith(
        f"reconciler serve: error: argument {option}: '{value}' must be a duration like \"30s\"\n"
    )


def test_the_settings_options_are_flags_and_leave_the_file_alone(tmp_path: Path) -> None:
    config = tmp_path / "daemon.yaml"
    config.write_text(
        "sources: [{name: repo, path: /srv/repo, interval: 2h}]\nreconcile: {selfHeal: true}\n"
    )
    args = app.build_parser().parse_args(
        ["serve", "--config", str(config), "--interval", "30s", "--no-self-heal"]
    )
    assert serve.flags_from(args) == Flags(interval="30s", audit_interval=None, self_heal=False)
    settings = serve.settings_from(args)
    assert (settings.sources[0].interval, settings.reconcile.self_heal) == ("2h", True)
    assert args.log_format == "text"
