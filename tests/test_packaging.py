"""The project's own wiring: packaging lists every package, and the README's commands are
the ones CI runs."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```sh\n(.+?)\n```", text)


def test_every_package_folder_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "reconciler").rglob("__init__.py")
    }
    assert found - listed == set()


def test_readme_opens_with_the_two_commands_and_ci_runs_the_second() -> None:
    commands = readme_commands()
    assert len(commands) >= 2
    run, tests = commands[0], commands[1]
    assert "reconciler init" in run and "pip install" in run
    assert tests in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
