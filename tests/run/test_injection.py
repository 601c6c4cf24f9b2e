"""Hostile variable values reach a program as literal arguments, never through a shell."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from reconciler.runstate import RunStatus, StepStatus
from reconciler.store import sqlite
from tests.run.helpers import latest, run_to_end, workflow

HOSTILE = [
    "; rm -rf /",
    "$(touch pwned)",
    "`touch pwned`",
    "a\nb; touch pwned",
    "' \" \\ $HOME *",
    "--help",
    "",
]
DUMP = "import json, sys; print(json.dumps(sys.argv[1:]))"


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("value", HOSTILE)
def test_argv_elements_render_to_exactly_one_argument(
    store: sqlite.SqliteStore, tmp_path: Path, value: str
) -> None:
    spec = workflow(
        [
            {
                "name": "dump",
                "command": [
                    sys.executable,
                    "-c",
                    DUMP,
                    "{{ vars.x }}",
                    "--name={{ vars.x }}",
                    "plain",
                ],
            }
        ]
    )
    run = asyncio.run(run_to_end(store, spec, variables={"x": value}))
    assert run.status is RunStatus.SUCCEEDED
    assert latest(run)["dump"].output["json"] == [value, f"--name={value}", "plain"]
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("value", HOSTILE)
def test_shell_commands_get_values_through_the_environment(
    store: sqlite.SqliteStore, tmp_path: Path, value: str
) -> None:
    spec = workflow(
        [
            {
                "name": "dump",
                "shell": True,
                "env": {"X": "{{ vars.x }}"},
                "command": [sys.executable, "-c", "'" + DUMP + "'", '"$X"', 'x"$X"y'],
            }
        ]
    )
    run = asyncio.run(run_to_end(store, spec, variables={"x": value}))
    assert run.status is RunStatus.SUCCEEDED
    assert latest(run)["dump"].output["json"] == [value, f"x{value}y"]
    assert not (tmp_path / "pwned").exists()


def test_outputs_of_one_step_are_literal_arguments_of_the_next(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    spec = workflow(
        [
            {"name": "emit", "command": [sys.executable, "-c", "print('$(touch pwned); ls')"]},
            {
                "name": "dump",
                "dependsOn": ["emit"],
                "command": [sys.executable, "-c", DUMP, "{{ steps.emit.outputs.stdout }}"],
            },
        ]
    )
    run = asyncio.run(run_to_end(store, spec))
    assert latest(run)["dump"].output["json"] == ["$(touch pwned); ls\n"]
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("shell", [False, True])
def test_a_value_holding_nul_fails_the_step_without_running_it(
    store: sqlite.SqliteStore, tmp_path: Path, shell: bool
) -> None:
    step = {"command": ["touch", "pwned{{ vars.x }}"]}
    if shell:
        step = {"shell": True, "env": {"X": "{{ vars.x }}"}, "command": ["touch", 'pwned"$X"']}
    spec = workflow([{"name": "dump", "retry": {"maxAttempts": 3}, **step}])
    run = asyncio.run(run_to_end(store, spec, variables={"x": "a\x00b"}))
    step = latest(run)["dump"]
    assert (step.status, step.attempt, step.error) == (
        StepStatus.FAILED,
        1,
        "a rendered value contains a NUL byte",
    )
    assert run.error == "step dump failed: a rendered value contains a NUL byte"
    assert not list(tmp_path.glob("pwned*"))
    assert json.dumps(step.output) == "{}"
