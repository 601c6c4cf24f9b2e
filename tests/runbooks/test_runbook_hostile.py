"""Variables never become code: hostile values are passed as data, one argv element each
(or, with `shell: true`, in the environment the fixed command line reads), and a dangerous
runbook needs a confirmation."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.runbooks.conftest import Cli, Repo, runbook

ROOT = Path(__file__).resolve().parents[2]


def hostile_values(tmp_path: Path) -> list[str]:
    pwned, victim = tmp_path / "pwned", tmp_path / "victim"
    return [
        f"; touch {pwned}",
        f"$(touch {pwned})",
        f"`touch {pwned}`",
        f"x\ntouch {pwned}",
        f"&& touch {pwned} || rm -rf {victim}",
        f"| touch {pwned}",
        f"'; rm -rf {victim}; echo '",
        '"; touch ' + str(pwned) + '; echo "',
    ]


ECHO = runbook(
    "echo",
    """
    - name: plain
      command: [echo, "{{ vars.x }}"]
      timeout: 5s
    - name: shell
      command: ['echo "$X"']
      env: {X: "{{ vars.x }}"}
      shell: true
      timeout: 5s
    - name: embedded
      command: [printf, "%s|", "before {{ vars.x }} after", "{{ vars.x }}"]
      timeout: 5s
    """,
    variables="- {name: x, required: true}",
)


@pytest.mark.parametrize("index", range(8))
def test_hostile_values_are_data(cli: Cli, repo: Repo, tmp_path: Path, index: int) -> None:
    value = hostile_values(tmp_path)[index]
    victim = tmp_path / "victim"
    victim.mkdir()
    reports = tmp_path / "r"
    done = cli(
        "runbook",
        "execute",
        repo({"runbooks/e.yaml": ECHO}),
        "echo",
        "--var",
        f"x={value}",
        "--yes",
        "--report-dir",
        reports,
    )
    assert done.code == 0, done.out
    assert not (tmp_path / "pwned").exists()
    assert victim.is_dir()
    steps = json.loads((reports / "report.json").read_text())["steps"]
    assert [s["stdout"] for s in steps] == [
        value + "\n",
        value + "\n",
        f"before {value} after|{value}|",
    ]
    assert steps[0]["argv"] == ["echo", value]
    assert steps[2]["argv"] == ["printf", "%s|", f"before {value} after", value]


def test_a_nul_is_refused_before_anything_runs(cli: Cli, repo: Repo, tmp_path: Path) -> None:
    done = cli(
        "runbook",
        "execute",
        repo({"runbooks/e.yaml": ECHO}),
        "echo",
        "--var",
        "x=a\0b",
        "--report-dir",
        tmp_path / "r",
    )
    assert (done.code, done.err) == (1, 'error: variable "x": must not contain a NUL character\n')
    assert not (tmp_path / "r").exists()


# The repository's own safety rule flags `touch`, so the "dangerous" command is harmless.
POLICY = """
package reconciler.runbook_safety.local

import rego.v1

deny contains {"step": s.name, "msg": concat(" ", s.command)} if {
\tsome s in input.spec.steps
\ts.command[0] == "touch"
}
"""


def dangerous_repo(repo: Repo, marker: Path) -> Path:
    book = runbook(
        "risky",
        f'- {{name: mark, command: [touch, "{marker}"], timeout: 5s}}\n',
        extra='dangerousCommands: {allow: true, reason: "marker files are fine here"}',
    )
    return repo({"policies/safety.rego": POLICY, "runbooks/risky.yaml": book})


def reconciler(*args: str | Path, stdin: int | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *map(str, args)],
        stdin=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def test_a_dangerous_runbook_is_refused_without_yes_or_a_terminal(
    repo: Repo, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    root = dangerous_repo(repo, marker)
    done = reconciler(
        "runbook",
        "execute",
        root,
        "risky",
        "--report-dir",
        tmp_path / "r",
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1
    assert done.stderr == (
        "refusing to execute risky: it runs commands the safety policy flags"
        f" (mark: touch {marker}); confirm on a terminal or pass --yes\n"
    )
    assert not marker.exists()
    assert not (tmp_path / "r").exists()


def test_yes_runs_it_and_the_report_records_the_override(
    cli: Cli, repo: Repo, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    root = dangerous_repo(repo, marker)
    reports = tmp_path / "r"
    assert cli("runbook", "execute", root, "risky", "--yes", "--report-dir", reports).code == 0
    assert marker.exists()
    report = json.loads((reports / "report.json").read_text())
    assert report["overrides"] == [
        {
            "kind": "dangerousCommands",
            "reason": "marker files are fine here",
            "confirmedBy": "--yes",
            "findings": [
                {
                    "step": "mark",
                    "key": "command",
                    "message": f"touch {marker}",
                    "policy": "reconciler.runbook_safety.local",
                }
            ],
        }
    ]
    md = (reports / "report.md").read_text()
    assert (
        "- override: dangerous commands allowed (marker files are fine here), confirmed by --yes"
        in md
    )


@pytest.mark.parametrize(("answer", "code"), [("risky", 0), ("yes", 1)])
def test_on_a_terminal_the_name_must_be_typed(
    repo: Repo, tmp_path: Path, answer: str, code: int
) -> None:
    marker = tmp_path / "marker"
    root = dangerous_repo(repo, marker)
    leader, follower = pty.openpty()
    try:
        os.write(leader, f"{answer}\n".encode())
        done = reconciler(
            "runbook", "execute", root, "risky", "--report-dir", tmp_path / "r", stdin=follower
        )
    finally:
        os.close(leader)
        os.close(follower)
    assert done.returncode == code, done.stderr
    assert marker.exists() is (code == 0)
    assert "type risky to run it: " in done.stdout
