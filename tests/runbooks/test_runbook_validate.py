"""`reconciler runbook validate`: every finding as one whole `path:line key: message` line,
exit 1 on problems, warnings alone pass, overrides are shown, names select runbooks."""

from __future__ import annotations

import json

from tests.runbooks.conftest import Cli, Repo, runbook

WIPE = runbook(
    "wipe",
    """
    - name: look
      command: [ls, /]
      timeout: 5s
    - name: wipe-root
      dependsOn: [look]
      command: [rm, -rf, /]
      timeout: 5s
    """,
)

SLOW = runbook(
    "slow",
    """
    - name: no-timeout
      command: [echo, "{{ vars.who }}"]
    - name: too-long
      command: [sleep, "1"]
      timeout: 25h
      rollback: {command: ["echo", "{{ vars.nobody }}"], timeout: 2d}
    - name: template
      command: [echo, "{{ steps.x.stdout }}"]
      timeout: 1s
    """,
    variables="""
    - {name: who, default: "Bob", pattern: "^[a-z]+$"}
    """,
)

CYCLE = runbook(
    "cycle",
    """
    - name: a
      dependsOn: [b]
      command: ["true"]
      timeout: 1s
    - name: b
      dependsOn: [a]
      command: ["true"]
      timeout: 1s
    """,
)

ALLOWED = runbook(
    "allowed",
    """
    - name: restart-host
      command: [reboot]
      timeout: 1m
    """,
    extra='dangerousCommands: {allow: true, reason: "maintenance window"}',
)


def test_problems_are_whole_lines_and_exit_1(cli: Cli, repo: Repo) -> None:
    root = repo({"runbooks/wipe.yaml": WIPE, "runbooks/slow.yaml": SLOW})
    done = cli("runbook", "validate", root)
    assert done.code == 1
    assert done.lines == [
        'runbooks/slow.yaml:7 spec.variables[0].default: "Bob" does not match pattern "^[a-z]+$"',
        "runbooks/slow.yaml:13 spec.steps[1].timeout: timeout 25h is more than 24h",
        'runbooks/slow.yaml:14 spec.steps[1].rollback.command[1]: unknown variable "nobody"',
        "runbooks/slow.yaml:14 spec.steps[1].rollback.timeout: timeout 2d is more than 24h",
        "runbooks/slow.yaml:16 spec.steps[2].command[1]:"
        ' unsupported template "{{ steps.x.stdout }}" (use {{ vars.NAME }})',
        "runbooks/wipe.yaml:12 spec.steps[1].command:"
        " dangerous command: rm -rf / (policy reconciler.packs.runbook_safety)",
        "runbooks/slow.yaml:9 spec.steps[0].timeout: warning: no timeout, the step can run forever",
        "6 problems in 2 runbooks",
    ]


def test_schema_and_cycle_problems_come_from_the_loader(cli: Cli, repo: Repo) -> None:
    bad_timeout = runbook("bad", '- {name: a, command: ["true"], timeout: soon}\n')
    root = repo({"runbooks/cycle.yaml": CYCLE, "runbooks/bad.yaml": bad_timeout})
    done = cli("runbook", "validate", root)
    assert done.code == 1
    assert done.lines == [
        'runbooks/bad.yaml:7 spec.steps[0].timeout: must be a duration like "30s"',
        "runbooks/cycle.yaml:6 spec.steps: cycle: a -> b -> a",
        "2 problems in 0 runbooks",
    ]


def test_warnings_alone_pass(cli: Cli, repo: Repo) -> None:
    root = repo({"runbooks/r.yaml": runbook("r", "- {name: a, command: [date]}\n")})
    done = cli("runbook", "validate", root)
    assert (done.code, done.lines) == (
        0,
        [
            "runbooks/r.yaml:7 spec.steps[0].timeout:"
            " warning: no timeout, the step can run forever",
            "ok: 1 runbook, 1 warning",
        ],
    )


def test_an_override_with_a_reason_passes_and_is_shown(cli: Cli, repo: Repo) -> None:
    root = repo({"runbooks/allowed.yaml": ALLOWED})
    done = cli("runbook", "validate", root)
    assert (done.code, done.lines) == (
        0,
        [
            "runbooks/allowed.yaml:1 spec.dangerousCommands: override: allowed because"
            " 'maintenance window' (restart-host: reboot)",
            "ok: 1 runbook",
        ],
    )


def test_an_override_without_a_reason_is_a_schema_problem(cli: Cli, repo: Repo) -> None:
    text = ALLOWED.replace('reason: "maintenance window"', 'reason: ""')
    done = cli("runbook", "validate", repo({"runbooks/allowed.yaml": text}))
    assert done.code == 1
    assert done.lines[0] == (
        "runbooks/allowed.yaml:10 spec.dangerousCommands.reason: required when allow is true"
    )


def test_names_select_runbooks(cli: Cli, repo: Repo) -> None:
    root = repo({"runbooks/wipe.yaml": WIPE, "runbooks/allowed.yaml": ALLOWED})
    assert cli("runbook", "validate", root, "allowed").code == 0
    done = cli("runbook", "validate", root, "nope")
    assert done.code == 1
    assert done.err == 'error: no runbook named "nope" (known: allowed, wipe)\n'


def test_repository_extensions_count(cli: Cli, repo: Repo) -> None:
    policy = """
        package reconciler.runbook_safety.team

        import rego.v1

        deny contains {"step": s.name, "msg": "no package upgrades"} if {
        \tsome s in input.spec.steps
        \ts.command[0] == "apt-get"
        }
        """
    book = runbook("upgrade", "- {name: up, command: [apt-get, upgrade], timeout: 1m}\n")
    root = repo({"policies/safety.rego": policy, "runbooks/upgrade.yaml": book})
    done = cli("runbook", "validate", root)
    assert done.lines == [
        "runbooks/upgrade.yaml:7 spec.steps[0].command: dangerous command: no package upgrades"
        " (policy reconciler.runbook_safety.team)",
        "1 problem in 1 runbook",
    ]


def test_json_format(cli: Cli, repo: Repo) -> None:
    done = cli("runbook", "validate", repo({"runbooks/wipe.yaml": WIPE}), "--format", "json")
    report = json.loads(done.out)
    assert report == {
        "valid": False,
        "runbooks": ["wipe"],
        "problems": [
            {
                "path": "runbooks/wipe.yaml",
                "line": 12,
                "key": "spec.steps[1].command",
                "message": "dangerous command: rm -rf / (policy reconciler.packs.runbook_safety)",
            }
        ],
        "warnings": [],
    }


SPLICED = runbook(
    "greet",
    """
    - name: greet
      command: ["sh", "-c", "echo hello {{ vars.who }}"]
      timeout: 1m
    """,
    extra="variables: [{name: who, type: string}]",
)


def test_a_variable_spliced_into_a_shell_script_is_refused(cli: Cli, repo: Repo) -> None:
    root = repo({"runbooks/greet.yaml": SPLICED})
    done = cli("runbook", "validate", root)
    assert done.code == 1
    assert done.lines[0].startswith(
        "runbooks/greet.yaml:8 spec.steps[0].command: command[2]: a template in the script of"
        " sh -c would run as code"
    )
    executed = cli("runbook", "execute", root, "greet", "--var", "who=$(touch pwned)")
    assert executed.code != 0
    assert not (root / "pwned").exists()
