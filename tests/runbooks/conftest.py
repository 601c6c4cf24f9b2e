"""Runbook repositories in temp dirs and the `reconciler` command run in-process on them.

`repo(files)` writes a repository folder (no git needed: the verbs read directories);
`cli(*args)` runs one command line and returns its exit code and output.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler import cli as cli_mod


@dataclass(frozen=True, kw_only=True)
class Done:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


Cli = Callable[..., Done]
Repo = Callable[[Mapping[str, str]], Path]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    def run(*args: str | Path) -> Done:
        capsys.readouterr()
        code = cli_mod.main([str(a) for a in args])
        captured = capsys.readouterr()
        return Done(code=code, out=captured.out, err=captured.err)

    return run


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    def make(files: Mapping[str, str]) -> Path:
        root = tmp_path / "repo"
        for name, text in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        root.mkdir(exist_ok=True)
        return root

    return make


def runbook(name: str, steps: str, *, extra: str = "", variables: str = "") -> str:
    """A Runbook document; `steps` (and `variables`) are YAML list items at column 0."""
    body = [
        "apiVersion: reconciler.dev/v1",
        "kind: Runbook",
        f"metadata: {{name: {name}}}",
        "spec:",
        "  type: maintenance",
    ]
    if variables:
        body += ["  variables:", textwrap.indent(textwrap.dedent(variables).strip("\n"), "    ")]
    body += ["  steps:", textwrap.indent(textwrap.dedent(steps).strip("\n"), "    ")]
    if extra:
        body.append(textwrap.indent(textwrap.dedent(extra).strip("\n"), "  "))
    return "\n".join(body) + "\n"
