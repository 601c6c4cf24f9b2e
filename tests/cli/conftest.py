"""Run the real `reconciler` command in a subprocess, on real repositories in temp dirs.

Every run gets its own cache, state and log folders and a fixed terminal width, so the
output is the same on every machine. `example` is a fresh `reconciler init` repository a
test may change; `shared_example` is one per session that no test may change.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import gitrepo

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


@dataclass(frozen=True, kw_only=True)
class Done:
    """A finished `reconciler` run: exit code and what it printed."""

    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


Cli = Callable[..., Done]


def run_cli(
    *args: str | Path, home: Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> Done:
    environ = gitrepo.git_env(
        {
            "HOME": str(home),
            "XDG_CACHE_HOME": str(home / "cache"),
            "XDG_STATE_HOME": str(home / "state"),
            "RECONCILER_LOG_DIR": str(home / "logs"),
            "COLUMNS": "100",
            "PYTHONWARNINGS": "error",
            **(env or {}),
        }
    )
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", *map(str, args)],
        cwd=cwd or home,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Done(code=done.returncode, out=done.stdout, err=done.stderr)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    home = tmp_path / "home"
    home.mkdir()

    def run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> Done:
        return run_cli(*args, home=home, cwd=cwd, env=env)

    return run


@pytest.fixture(scope="session")
def shared_example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An init'ed example repository that tests only read."""
    root = tmp_path_factory.mktemp("shared-example")
    (root / "home").mkdir()
    done = run_cli("init", root / "example", home=root / "home")
    assert done.code == 0, done.err
    return root / "example"


@pytest.fixture
def example(shared_example: Path, tmp_path: Path) -> Path:
    """A private copy of the init'ed example repository (with its Git history)."""
    target = tmp_path / "example"
    shutil.copytree(shared_example, target, symlinks=True)
    return target


def head(repo: Path, back: int = 0) -> str:
    """The sha of HEAD, or of its `back`-th first parent."""
    return gitrepo.git(repo, "rev-parse", f"HEAD~{back}")


def documented_schema(name: str) -> dict[str, Any]:
    """The JSON Schema that docs/cli.md gives after `<!-- schema: NAME -->`."""
    text = DOCS.read_text("utf-8")
    after = text.split(f"<!-- schema: {name} -->", 1)[1]
    block = after.split("```json\n", 1)[1].split("\n```", 1)[0]
    schema: dict[str, Any] = json.loads(block)
    return schema


def assert_documented_shape(instance: Any, *, name: str) -> None:
    """`instance` follows the JSON Schema docs/cli.md documents, when jsonschema is installed
    (tests assert the keys and types they need on their own as well)."""
    schema = documented_schema(name)
    try:
        import jsonschema
    except ImportError:  # an optional test dependency
        return
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]
    assert errors == []
