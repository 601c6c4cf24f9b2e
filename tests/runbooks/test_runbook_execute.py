"""`reconciler runbook execute`: expect checks, retries, rollback in reverse order, timeouts
that kill the whole process group, the report files and the store record."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

from reconciler.runstate import RunKind, RunStatus, StepStatus
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore
from tests.runbooks.conftest import Cli, Repo, runbook


def report_of(directory: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((directory / "report.json").read_text("utf-8"))
    return loaded


def statuses(report: dict[str, Any], key: str = "steps") -> list[tuple[str, str]]:
    return [(s["name"], s["status"]) for s in report[key]]


JSON_OUT = '{"status": "ok", "items": [{"id": 7}]}'


def test_expect_checks_pass_and_fail(cli: Cli, repo: Repo, tmp_path: Path) -> None:
    book = runbook(
        "checks",
        f"""
        - name: json
          command: [echo, '{JSON_OUT}']
          expect:
            json:
              - {{path: $.status, equals: ok}}
              - {{path: "$.items[0].id", exists: true}}
              - {{path: $.gone, exists: false}}
          timeout: 5s
        - name: regex
          dependsOn: [json]
          command: [printf, "a\\nversion 1.2\\n"]
          expect: {{stdoutRegex: "^version [0-9.]+$", stdout: "version"}}
          timeout: 5s
        - name: wrong
          dependsOn: [regex]
          command: [sh, -c, "echo '{{\\"status\\": \\"down\\"}}'; echo oops >&2; exit 3"]
          expect:
            exitCode: 0
            stderr: fine
            json: [{{path: $.status, equals: ok}}, {{path: $.id, exists: true}}]
          timeout: 5s
        """,
    )
    reports = tmp_path / "reports"
    done = cli(
        "runbook", "execute", repo({"runbooks/c.yaml": book}), "checks", "--report-dir", reports
    )
    assert done.code == 1
    report = report_of(reports)
    assert statuses(report) == [("json", "succeeded"), ("regex", "succeeded"), ("wrong", "failed")]
    assert report["steps"][2]["error"] == (
        'exit code 3, expected 0; stderr does not contain "fine";'
        ' $.status is "down", expected "ok"; $.id is missing'
    )
    assert report["error"] == f"step wrong: {report['steps'][2]['error']}"
    assert done.lines[-2] == "failed: checks in " + done.lines[-2].split(" in ")[1]


def test_a_failing_step_is_retried(cli: Cli, repo: Repo, tmp_path: Path) -> None:
    counter = tmp_path / "count"
    script = (
        f"n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; test $n -ge 3"
    )
    book = runbook(
        "flaky",
        f"""
        - name: flaky
          command: [sh, -c, "{script}"]
          retry: {{maxAttempts: 4, backoff: 1ms, jitter: false}}
          timeout: 5s
        """,
    )
    reports = tmp_path / "r"
    done = cli(
        "runbook", "execute", repo({"runbooks/f.yaml": book}), "flaky", "--report-dir", reports
    )
    assert done.code == 0
    assert counter.read_text() == "3\n"
    attempts = [line for line in done.lines if "attempt" in line]
    assert attempts == [
        "[1/1] flaky: attempt 1/4 failed: exit code 1, expected 0; retry in 0.00s",
        "[1/1] flaky: attempt 2/4 failed: exit code 1, expected 0; retry in 0.00s",
    ]
    assert report_of(reports)["steps"][0]["attempts"] == 3


def test_rollback_runs_completed_steps_in_reverse_order(
    cli: Cli, repo: Repo, tmp_path: Path
) -> None:
    log = tmp_path / "log"

    def step(name: str, after: str, command: str, extra: str = "") -> str:
        rollback = f'rollback: {{command: [sh, -c, "echo undo-{name} >> {log}"]}}'
        return (
            f"- name: {name}\n  dependsOn: [{after}]\n  command: {command}\n"
            f"  timeout: 5s\n  {rollback}\n{extra}"
        )

    steps = "".join(
        [
            f"- name: a\n  command: [sh, -c, 'echo a >> {log}']\n  timeout: 5s\n"
            f'  rollback: {{command: [sh, -c, "echo undo-a >> {log}"]}}\n',
            step("b", "a", f"[sh, -c, 'echo b >> {log}']"),
            "- name: no-rollback\n  dependsOn: [b]\n  command: ['true']\n  timeout: 5s\n",
            step("c", "no-rollback", "['false']"),
            "- name: notify\n  dependsOn: [c]\n  always: true\n"
            f"  command: [sh, -c, 'echo notify >> {log}']\n  timeout: 5s\n",
            step("d", "c", f"[sh, -c, 'echo d >> {log}']"),
        ]
    )
    reports = tmp_path / "r"
    done = cli(
        "runbook",
        "execute",
        repo({"runbooks/r.yaml": runbook("rb", steps)}),
        "rb",
        "--report-dir",
        reports,
    )
    assert done.code == 1
    assert log.read_text().split() == ["a", "b", "notify", "undo-b", "undo-a"]
    report = report_of(reports)
    assert statuses(report) == [
        ("a", "succeeded"),
        ("b", "succeeded"),
        ("no-rollback", "succeeded"),
        ("c", "failed"),
        ("notify", "succeeded"),
        ("d", "skipped"),
    ]
    assert statuses(report, "rollback") == [("b", "succeeded"), ("a", "succeeded")]
    assert "[6/6] d: skipped" in done.lines
    assert f"rollback b: running sh -c 'echo undo-b >> {log}'" in done.lines


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead, only not yet reaped


def test_a_timeout_kills_the_whole_process_group(cli: Cli, repo: Repo, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    book = runbook(
        "hang",
        f"""
        - name: hang
          command: [sh, -c, "sleep 60 & echo $! > {pidfile}; wait"]
          timeout: 300ms
        """,
    )
    reports = tmp_path / "r"
    done = cli(
        "runbook", "execute", repo({"runbooks/h.yaml": book}), "hang", "--report-dir", reports
    )
    assert done.code == 1
    assert "[1/1] hang: failed: timed out after 300ms" in done.lines
    child = int(pidfile.read_text())
    assert not alive(child)
    step = report_of(reports)["steps"][0]
    assert (step["timedOut"], step["error"]) == (True, "timed out after 300ms")


def test_report_files_and_store_record(cli: Cli, repo: Repo, tmp_path: Path) -> None:
    book = runbook(
        "hello",
        """
        - name: greet
          command: [echo, "hello {{ vars.who }}"]
          timeout: 5s
        """,
        variables="- {name: who, default: world}",
    )
    reports, data = tmp_path / "r", tmp_path / "data"
    root = repo({"runbooks/h.yaml": book})
    done = cli(
        "runbook",
        "execute",
        root,
        "hello",
        "--var",
        "who=you",
        "--report-dir",
        reports,
        "--data-dir",
        data,
    )
    assert done.code == 0
    assert done.lines[:2] == ["[1/1] greet: running echo 'hello you'", done.lines[1]]
    assert done.lines[-1] == f"report: {reports / 'report.json'} {reports / 'report.md'}"
    report = report_of(reports)
    assert set(report) == {
        "runId",
        "runbook",
        "path",
        "type",
        "revision",
        "result",
        "error",
        "who",
        "startedAt",
        "finishedAt",
        "durationSeconds",
        "variables",
        "overrides",
        "steps",
        "rollback",
    }
    assert (report["runbook"], report["result"]) == ("hello", "succeeded")
    assert report["who"] == getpass.getuser()
    assert report["variables"] == {"who": "you"}
    assert report["overrides"] == []
    assert report["steps"][0] | {"durationSeconds": 0} == {
        "name": "greet",
        "status": "succeeded",
        "argv": ["echo", "hello you"],
        "shell": False,
        "attempts": 1,
        "durationSeconds": 0,
        "exitCode": 0,
        "timedOut": False,
        "stdout": "hello you\n",
        "stderr": "",
        "error": None,
    }
    md = (reports / "report.md").read_text()
    assert md.startswith("# Runbook hello: succeeded\n")
    assert "| greet | succeeded | 1 | 0 |" in md
    assert "### greet stdout\n\n```text\nhello you\n```" in md
    store = SqliteStore(data / "reconciler.db", retention=RetentionSettings())
    try:
        (run,) = store.list_runs(kind=RunKind.RUNBOOK)
    finally:
        store.close()
    assert (run.id, run.name, run.status) == (report["runId"], "hello", RunStatus.SUCCEEDED)
    assert [(s.name, s.status, s.attempt) for s in run.steps] == [
        ("greet", StepStatus.SUCCEEDED, 1)
    ]


def test_long_output_is_truncated_in_the_report(cli: Cli, repo: Repo, tmp_path: Path) -> None:
    book = runbook(
        "loud", '- {name: loud, command: [sh, -c, "yes x | head -c 20000"], timeout: 5s}\n'
    )
    reports = tmp_path / "r"
    assert (
        cli(
            "runbook", "execute", repo({"runbooks/l.yaml": book}), "loud", "--report-dir", reports
        ).code
        == 0
    )
    stdout = report_of(reports)["steps"][0]["stdout"]
    assert "[16000 characters truncated]" in stdout
    assert len(stdout) < 4100
