"""docs/daemon.md stays true: its settings file reference loads as written."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from reconciler.reconcile import settings
from tests.e2e import harness

DOC = harness.ROOT / "docs" / "daemon.md"


def test_the_settings_reference_in_the_docs_loads(tmp_path: Path) -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Settings file reference", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None
    path = tmp_path / "daemon.yaml"
    path.write_text(block.group(1))
    loaded = settings.load(path)
    assert [s.name for s in loaded.sources] == ["policies"]
    assert loaded.webhooks.github_secret_env == "RECONCILER_GITHUB_SECRET"
    assert loaded.retention.decision_max_age.days == 30
    documented = set(re.findall(r"^\s*#?\s*(?:- )?([a-z][A-Za-z0-9]+):", block.group(1), re.M))
    known = _keys(settings.DaemonSettings)
    assert documented - known == set()
    assert known - documented == set(), "every settings key is documented"


def _keys(model: type[BaseModel]) -> set[str]:
    """Every key a settings file may hold, at any depth."""
    keys: set[str] = set()
    for name, info in model.model_fields.items():
        keys.add(info.alias or name)
        for arg in (info.annotation, *getattr(info.annotation, "__args__", ())):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                keys |= _keys(arg)
    return keys
