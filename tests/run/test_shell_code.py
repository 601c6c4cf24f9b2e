"""Values never become code: the attacks that spliced a variable into shell text are
refused by validation (naming the file, step and key) and at run time, and whatever a value
holds, a command gets it as data — an argument or an environment variable — and nothing
else runs (a sentinel file is never created)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from reconciler.runstate import RunStatus, StepStatus
from reconciler.specs import flows, shellcode
from reconciler.store import sqlite
from reconciler.store.retention import RetentionSettings
from tests.run.helpers import latest, run_to_end, workflow

ATTACK = "$(touch {sentinel})"
DUMP = "import json, os, sys; print(json.dumps([sys.argv[1:], os.environ.get('X')]))"


def test_the_quoted_placeholder_attack_is_refused_by_validation() -> None:
    with pytest.raises(ValidationError) as caught:
        workflow([{"name": "greet", "shell": True, "command": ["echo", '"hello {{ vars.who }}"']}])
    [error] = caught.value.errors()
    assert error["loc"] == ("spec", "steps", 0, "shell")
    assert error["msg"].startswith("command[1] holds a template, which the shell would parse")


@pytest.mark.parametrize(
    ("argv", "index", "why"),
    [
        (["sh", "-c", "echo hello {{ vars.who }}"], 2, "the script of sh -c"),
        (["bash", "-o", "pipefail", "-ec", "x {{ vars.who }}"], 4, "the script of bash -ec"),
        (["/usr/bin/python3.11", "-c", "print('{{ vars.who }}')"], 2, "the code of python -c"),
        (["env", "perl", "-e", "print '{{ vars.who }}'"], 3, "the code of perl -e"),
        (["awk", "-v", "n=1", "{ print '{{ vars.who }}' }"], 3, "the program of awk"),
        (["ssh", "-p", "22", "host", "rm {{ vars.who }}"], 4, "the remote command of ssh"),
        (["find", ".", "-exec", "sh", "-c", "rm {{ vars.who }}", ";"], 5, "the script of sh -c"),
    ],
)
def test_templates_in_interpreter_code_are_refused(argv: list[str], index: int, why: str) -> None:
    assert shellcode.splices(argv, shell=False) == [(index, why)]
    with pytest.raises(ValidationError) as caught:
        flows.RunbookStep.model_validate({"name": "s", "command": argv})
    [error] = caught.value.errors()
    assert error["loc"] == ("command",)
    assert error["msg"].startswith(f"command[{index}]: a template in {why} would run as code")


@pytest.mark.parametrize(
    "argv",
    [
        ["sh", "-c", 'echo "hello $1"', "sh", "{{ vars.who }}"],
        ["python3", "-c", "import sys; print(sys.argv[1])", "{{ vars.who }}"],
        ["awk", "-v", "who={{ vars.who }}", "-f", "prog.awk"],
        ["echo", "{{ vars.who }}", "--name={{ vars.who }}"],
    ],
)
def test_values_as_data_are_allowed(argv: list[str]) -> None:
    assert shellcode.splices(argv, shell=False) == []
    flows.RunbookStep.model_validate({"name": "s", "command": argv})


@pytest.mark.parametrize("name", ["PATH", "LD_PRELOAD", "BASH_ENV", "PYTHONPATH", "1X", "A-B"])
def test_env_may_not_change_which_code_runs(name: str) -> None:
    with pytest.raises(ValidationError) as caught:
        flows.RunbookStep.model_validate({"name": "s", "command": ["true"], "env": {name: "x"}})
    assert caught.value.errors()[0]["loc"] == ("env",)


def test_a_step_built_around_validation_is_refused_at_run_time(tmp_path: Path) -> None:
    sentinel = tmp_path / "pwned"
    spec = workflow([{"name": "greet", "command": ["true"]}])
    unchecked = flows.Step.model_construct(
        name="greet",
        kind=flows.StepKind.COMMAND,
        depends_on=[],
        command=["sh", "-c", "echo {{ vars.who }}"],
        shell=False,
        env={},
        retry=None,
        timeout=None,
        idempotent=False,
        always=False,
        expect=None,
    )
    spec.spec.steps[0] = unchecked
    store = sqlite.SqliteStore(tmp_path / "s.db", retention=RetentionSettings())
    run = asyncio.run(run_to_end(store, spec, variables={"who": ATTACK.format(sentinel=sentinel)}))
    step = latest(run)["greet"]
    assert step.status is StepStatus.FAILED
    assert step.error == "command[2]: a template in the script of sh -c would run as code; refused"
    assert not sentinel.exists()


ATTACKS = ["$(touch {s})", "`touch {s}`", "'; touch {s}; '", '"; touch {s}; "', "\n touch {s}"]
values = st.text(
    alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
    max_size=40,
) | st.sampled_from(ATTACKS)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=values)
def test_any_value_reaches_the_command_as_data_only(tmp_path: Path, value: str) -> None:
    sentinel = tmp_path / "pwned"
    value = value.replace("{s}", str(sentinel))
    spec = workflow(
        [
            {
                "name": "argv",
                "env": {"X": "{{ vars.v }}"},
                "command": [sys.executable, "-c", DUMP, "{{ vars.v }}", "a{{ vars.v }}b"],
            },
            {
                "name": "positional",
                "env": {"X": "{{ vars.v }}"},
                "command": [
                    *("sh", "-c", 'exec "$0" -c "$1" "$2" "$X"'),
                    *(sys.executable, DUMP, "{{ vars.v }}"),
                ],
            },
            {
                "name": "shell",
                "shell": True,
                "env": {"X": "{{ vars.v }}"},
                "command": [sys.executable, "-c", json.dumps(DUMP), '"$X"'],
            },
        ]
    )
    store = sqlite.SqliteStore(tmp_path / f"{abs(hash(value))}.db", retention=RetentionSettings())
    run = asyncio.run(run_to_end(store, spec, variables={"v": value}))
    assert run.status is RunStatus.SUCCEEDED, run.error
    steps = latest(run)
    assert steps["argv"].output["json"] == [[value, f"a{value}b"], value]
    assert steps["positional"].output["json"] == [[value, value], value]
    assert steps["shell"].output["json"] == [[value], value]
    assert not sentinel.exists()
