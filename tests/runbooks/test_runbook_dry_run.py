"""`reconciler runbook test`: variables rendered and checked, the plan printed in order,
and nothing executed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.runbooks.conftest import Cli, Repo, runbook


def touching(marker: Path) -> str:
    return runbook(
        "touch",
        f"""
        - name: later
          dependsOn: [create]
          command: [echo, "{{{{ vars.count }}}} {{{{ vars.flag }}}}"]
          expect: {{stdoutRegex: "^3 ", json: [{{path: $.status, equals: ok}}]}}
          timeout: 5s
        - name: create
          command: [touch, "{marker}"]
          rollback: {{command: [rm, -f, "{marker}"]}}
          retry: {{maxAttempts: 3, backoff: 1s}}
          timeout: 1m
        """,
        variables="""
        - {name: count, type: integer, required: true}
        - {name: flag, type: boolean, default: false}
        - {name: host, type: string, default: web-1, pattern: "^[a-z0-9-]+$"}
        """,
    )


def test_the_plan_is_printed_and_nothing_runs(cli: Cli, repo: Repo, tmp_path: Path) -> None:
    marker = tmp_path / "created"
    root = repo({"runbooks/touch.yaml": touching(marker)})
    done = cli("runbook", "test", root, "touch", "--var", "count=3")
    assert done.code == 0
    assert not marker.exists()
    assert done.lines == [
        "runbook touch (maintenance) from runbooks/touch.yaml",
        "variables: count=3, flag=false, host=web-1",
        "1. create [command]",
        f"   run: touch {marker}",
        f'   argv: ["touch", "{marker}"]',
        "   timeout: 60s",
        "   expect: exit code 0",
        "   retry: 3 attempts, backoff 1s",
        f"   rollback: rm -f {marker}",
        "2. later [command] (after create)",
        "   run: echo '3 false'",
        '   argv: ["echo", "3 false"]',
        "   timeout: 5s",
        '   expect: exit code 0, stdout matches "^3 ", $.status == "ok"',
        "2 steps; dry run: nothing was executed",
    ]


def test_the_plan_as_json(cli: Cli, repo: Repo, tmp_path: Path) -> None:
    root = repo({"runbooks/touch.yaml": touching(tmp_path / "m")})
    done = cli("runbook", "test", root, "touch", "--var", "count=3", "--format", "json")
    plan = json.loads(done.out)
    assert [s["name"] for s in plan["steps"]] == ["create", "later"]
    assert plan["variables"] == {"count": 3, "flag": False, "host": "web-1"}
    assert plan["dangerous"] is False
    assert plan["steps"][1]["expect"] == {
        "exitCode": 0,
        "stdoutRegex": "^3 ",
        "json": [{"path": "$.status", "equals": "ok"}],
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], 'variable "count": required (--var count=...)'),
        (["--var", "count=three"], 'variable "count": must be an integer, got "three"'),
        (
            ["--var", "count=1", "--var", "flag=maybe"],
            'variable "flag": must be true or false, got "maybe"',
        ),
        (
            ["--var", "count=1", "--var", "host=Web 1"],
            'variable "host": "Web 1" does not match pattern "^[a-z0-9-]+$"',
        ),
        (
            ["--var", "count=1", "--var", "other=1"],
            'unknown variable "other" (declared: count, flag, host)',
        ),
        (["--var", "count"], '--var "count": must be NAME=VALUE'),
    ],
)
def test_bad_variables_are_refused(
    cli: Cli, repo: Repo, tmp_path: Path, args: list[str], message: str
) -> None:
    root = repo({"runbooks/touch.yaml": touching(tmp_path / "m")})
    done = cli("runbook", "test", root, "touch", *args)
    assert (done.code, done.out, done.err) == (1, "", f"error: {message}\n")


def test_a_nul_in_a_value_is_refused(tmp_path: Path) -> None:
    from reconciler.run import variables as runbook_vars
    from reconciler.specs import flows

    variable = flows.Variable(name="x")
    with pytest.raises(ValueError, match=r"^must not contain a NUL character$"):
        runbook_vars.coerce(variable, "a\0b")


def test_a_runbook_with_problems_is_not_planned(cli: Cli, repo: Repo) -> None:
    book = runbook("wipe", "- {name: w, command: [rm, -rf, /], timeout: 1s}\n")
    done = cli("runbook", "test", repo({"runbooks/wipe.yaml": book}), "wipe")
    assert done.code == 1
    assert done.lines == [
        "runbooks/wipe.yaml:7 spec.steps[0].command:"
        " dangerous command: rm -rf / (policy reconciler.packs.runbook_safety)"
    ]
    assert done.err == "runbook wipe has problems; fix them first\n"


def test_a_variable_that_makes_a_command_dangerous_is_a_problem(cli: Cli, repo: Repo) -> None:
    book = runbook(
        "clean",
        '- {name: c, command: [rm, -rf, "{{ vars.dir }}"], timeout: 1s}\n',
        variables="- {name: dir, required: true}",
    )
    root = repo({"runbooks/clean.yaml": book})
    assert cli("runbook", "test", root, "clean", "--var", "dir=/tmp/x").code == 0
    done = cli("runbook", "test", root, "clean", "--var", "dir=/")
    assert done.lines == [
        "runbooks/clean.yaml:9 spec.steps[0].command: dangerous command: rm -rf /"
        " (policy reconciler.packs.runbook_safety) [with the given variables]"
    ]
