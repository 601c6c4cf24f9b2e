"""The safety pack: its own Rego tests pass, each dangerous pattern is found through the
Python adapter, look-alikes are not, and a repository's extension modules count."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler import assets
from reconciler.policy import testing
from reconciler.runbooks import safety as runbook_safety
from reconciler.specs.snapshot import RegoFile

PACK_TESTS = "reconciler.packs.runbook_safety_test"


def document(command: list[str], *, shell: bool = False) -> dict[str, Any]:
    step = {"name": "s", "command": command, "shell": shell}
    return {"apiVersion": "reconciler.dev/v1", "kind": "Runbook", "spec": {"steps": [step]}}


@pytest.fixture(scope="module")
def safety() -> runbook_safety.SafetyCheck:
    return runbook_safety.SafetyCheck()


def test_the_pack_rego_tests_pass() -> None:
    report = testing.run_tests(
        [], data={}, builtin_dir=assets.rego_dir(), include_builtin_tests=True
    )
    ours = [r for r in report.results if r.package == PACK_TESTS]
    assert len(ours) >= 15
    assert [r.name for r in ours if r.outcome is not testing.TestOutcome.PASS] == []


DANGEROUS = [
    (["rm", "-rf", "/"], False),
    (["rm", "-rf", "/*"], False),
    (["rm", "-fr", "~"], False),
    (["rm", "-r", "-f", "/etc"], False),
    (["rm", "-rf", "/usr/"], False),
    (["rm", "-rf", "/var"], False),
    (["rm", "-rf", "$HOME"], False),
    (["rm", "-rf", "/.."], False),
    (["rm", "-rf", "/."], False),
    (["sudo", "rm", "-rf", "/"], False),
    (["mkfs.ext4", "/dev/sdb1"], False),
    (["mkfs", "-t", "xfs", "/dev/sdb"], False),
    (["dd", "if=/dev/zero", "of=/dev/sda"], False),
    (["curl -fsSL https://example.com/i.sh | sh"], True),
    (["wget -qO- https://example.com/i.sh | bash"], True),
    (["bash", "-c", "$(curl -fsSL https://example.com/i.sh)"], False),
    (["chmod", "-R", "777", "/srv"], False),
    (["chmod", "777", "/"], False),
    ([":(){ :|:& };:"], True),
    (["shutdown", "-h", "now"], False),
    (["reboot"], False),
    (["halt"], False),
    (["poweroff"], False),
    (["init", "0"], False),
    (["iptables", "-F"], False),
    (["iptables", "--flush"], False),
    (["echo x > /dev/sda"], True),
    (["kill", "-9", "-1"], False),
    (["truncate", "-s", "0", "/dev/sda"], False),
    (["shred", "/dev/nvme0n1"], False),
    (["sh", "-c", "cd / && rm -rf /"], False),
]

SAFE = [
    (["rm", "-rf", "/tmp/x"], False),
    (["rm", "-rf", "/var/log/app/old"], False),
    (["echo", "shutdown"], False),
    (["echo", "rm", "-rf", "/"], False),
    (["echo", "curl x | sh"], False),
    (["echo shutdown now"], True),
    (["dd", "if=/dev/zero", "of=/tmp/disk.img", "count=1"], False),
    (["chmod", "755", "/srv/app"], False),
    (["kill", "-9", "1234"], False),
    (["iptables", "-L"], False),
    (["curl -fsS https://example.com/health | jq .status"], True),
    (["truncate", "-s", "0", "/tmp/app.log"], False),
    (["systemctl", "restart", "web"], False),
]


@pytest.mark.parametrize(("command", "shell"), DANGEROUS, ids=[" ".join(c) for c, _ in DANGEROUS])
def test_dangerous_commands_are_found(
    safety: runbook_safety.SafetyCheck, command: list[str], shell: bool
) -> None:
    found = safety.check(document(command, shell=shell))
    assert found == [
        runbook_safety.Danger(
            step="s", key="command", message=" ".join(command), policy=runbook_safety.PACK
        )
    ]


@pytest.mark.parametrize(("command", "shell"), SAFE, ids=[" ".join(c) for c, _ in SAFE])
def test_look_alikes_are_not_flagged(
    safety: runbook_safety.SafetyCheck, command: list[str], shell: bool
) -> None:
    assert safety.check(document(command, shell=shell)) == []


def test_repository_extensions_count_and_other_packages_do_not() -> None:
    modules = [
        RegoFile(
            path="policies/safety/no_docker_prune.rego",
            text="package reconciler.runbook_safety.docker\n\nimport rego.v1\n\n"
            'deny contains {"step": s.name, "msg": "docker system prune"} if {\n'
            '\tsome s in input.spec.steps\n\ts.command[0] == "docker"\n'
            '\ts.command[1] == "system"\n}\n\n'
            'deny contains "whole runbook finding" if input.spec.steps[0].name == "s"\n',
        ),
        RegoFile(path="policies/other.rego", text="package k8s.other\n\ndeny := {1}\n"),
        RegoFile(
            path="policies/safety/x_test.rego",
            text="package reconciler.runbook_safety.x_test\n",
        ),
    ]
    extensions = runbook_safety.extension_modules(modules)
    assert [m.path for m in extensions] == ["policies/safety/no_docker_prune.rego"]
    check = runbook_safety.SafetyCheck(extensions=extensions)
    found = check.check(document(["docker", "system", "prune", "-af"]))
    policy = "reconciler.runbook_safety.docker"
    assert found == [
        runbook_safety.Danger(step="", key="", message="whole runbook finding", policy=policy),
        runbook_safety.Danger(
            step="s", key="command", message="docker system prune", policy=policy
        ),
    ]


def test_an_extension_that_does_not_compile_is_a_problem() -> None:
    broken = RegoFile(
        path="policies/bad.rego", text="package reconciler.runbook_safety.bad\n\nx :=\n"
    )
    check = runbook_safety.SafetyCheck(extensions=[broken])
    assert [p.path for p in check.problems] == ["policies/bad.rego"]
    assert check.check(document(["reboot"]))[0].policy == runbook_safety.PACK
