"""Each step kind run by the engine on real parts: subprocesses, a loopback server, SQLite."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from reconciler.run.steps import base
from reconciler.runstate import RunStatus, StepStatus
from reconciler.store import sqlite
from tests.run.helpers import latest, run_to_end, statuses, workflow


def test_command_outputs(store: sqlite.SqliteStore) -> None:
    spec = workflow(
        [
            {
                "name": "a",
                "command": [
                    sys.executable,
                    "-c",
                    "import sys; print('{\"n\": 1}'); print('oops', file=sys.stderr)",
                ],
            }
        ]
    )
    run = asyncio.run(run_to_end(store, spec))
    assert latest(run)["a"].output == {
        "exitCode": 0,
        "stdout": '{"n": 1}\n',
        "stderr": "oops\n",
        "json": {"n": 1},
    }


def test_command_failure_keeps_outputs(store: sqlite.SqliteStore) -> None:
    spec = workflow([{"name": "a", "command": ["sh", "-c", "echo no; exit 3"]}])
    run = asyncio.run(run_to_end(store, spec))
    step = latest(run)["a"]
    assert (run.status, run.error) == (RunStatus.FAILED, "step a failed: exit code 3, expected 0")
    assert step.output == {"exitCode": 3, "stdout": "no\n", "stderr": ""}


def test_command_output_is_bounded(store: sqlite.SqliteStore) -> None:
    spec = workflow([{"name": "a", "command": [sys.executable, "-c", "print('x' * 100000)"]}])
    run = asyncio.run(run_to_end(store, spec, limits=base.Limits(max_output_bytes=10)))
    assert latest(run)["a"].output == {
        "exitCode": 0,
        "stdout": "x" * 10,
        "stderr": "",
        "truncated": ["stdout"],
    }


def test_command_not_found(store: sqlite.SqliteStore) -> None:
    spec = workflow([{"name": "a", "command": ["/nonexistent/tool"]}])
    run = asyncio.run(run_to_end(store, spec))
    assert run.error == "step a failed: cannot run '/nonexistent/tool': No such file or directory"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status = 200 if self.path == "/ok" else 404
        reply = json.dumps({"got": json.loads(body), "auth": self.headers["X-Token"]}).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_http_sends_rendered_json_and_checks_the_status(
    store: sqlite.SqliteStore, server: str
) -> None:
    spec = workflow(
        [
            {"name": "a", "command": ["echo", '{"n": 7}']},
            {
                "name": "post",
                "kind": "http",
                "dependsOn": ["a"],
                "http": {
                    "method": "POST",
                    "url": server + "/ok",
                    "headers": {"X-Token": "{{ vars.t }}"},
                    "body": {"n": "{{ steps.a.outputs.json.n }}", "s": "n={{ steps.a.status }}"},
                },
            },
            {
                "name": "missing",
                "kind": "http",
                "dependsOn": ["a"],
                "http": {
                    "method": "POST",
                    "url": server + "/nope",
                    "headers": {"X-Token": "x"},
                    "body": {},
                },
            },
        ]
    )
    run = asyncio.run(run_to_end(store, spec, variables={"t": "secret"}))
    steps = latest(run)
    assert steps["post"].output["json"] == {"got": {"n": 7, "s": "n=succeeded"}, "auth": "secret"}
    assert steps["post"].output["status"] == 200
    assert (steps["missing"].status, steps["missing"].error) == (
        StepStatus.FAILED,
        "HTTP 404, expected 200",
    )


def test_wait_for_a_duration_sleeps_through_the_injected_sleep(store: sqlite.SqliteStore) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    spec = workflow([{"name": "w", "kind": "wait", "wait": {"duration": "1h30m"}}])
    run = asyncio.run(run_to_end(store, spec, sleep=sleep))
    assert (run.status, slept) == (RunStatus.SUCCEEDED, [5400.0])


def test_wait_until_polls_an_expression(store: sqlite.SqliteStore) -> None:
    spec = workflow(
        [
            {"name": "slow", "command": ["sleep", "0.2"]},
            {
                "name": "w",
                "kind": "wait",
                "wait": {"until": "steps.slow.status == 'succeeded'", "interval": "20ms"},
            },
        ]
    )
    run = asyncio.run(run_to_end(store, spec))
    assert run.status is RunStatus.SUCCEEDED
    assert latest(run)["w"].output["polls"] > 1


@pytest.mark.parametrize(("count", "taken", "skipped"), [(3, "big", "small"), (1, "small", "big")])
def test_decision_skips_the_branch_not_taken(
    store: sqlite.SqliteStore, count: int, taken: str, skipped: str
) -> None:
    spec = workflow(
        [
            {"name": "count", "command": ["echo", str(count)]},
            {
                "name": "d",
                "kind": "decision",
                "dependsOn": ["count"],
                "decision": {
                    "when": "steps.count.outputs.json > 2",
                    "then": ["big"],
                    "else": ["small"],
                },
            },
            {"name": "big", "dependsOn": ["d"], "command": ["true"]},
            {"name": "after-big", "dependsOn": ["big"], "command": ["true"]},
            {"name": "small", "dependsOn": ["d"], "command": ["true"]},
            {"name": "join", "dependsOn": ["big", "small"], "command": ["true"]},
        ]
    )
    run = asyncio.run(run_to_end(store, spec))
    assert run.status is RunStatus.SUCCEEDED
    found = statuses(run)
    assert found[taken] is StepStatus.SUCCEEDED
    assert found[skipped] is StepStatus.SKIPPED
    assert found["join"] is StepStatus.SUCCEEDED
    assert found["after-big"] is (StepStatus.SUCCEEDED if taken == "big" else StepStatus.SKIPPED)


def test_reconcile_requests_a_sync(store: sqlite.SqliteStore) -> None:
    asked: list[str | None] = []

    async def request_sync(source: str | None) -> dict[str, str]:
        asked.append(source)
        return {"revision": "abc"}

    spec = workflow([{"name": "s", "kind": "reconcile", "reconcile": {"source": "main"}}])
    run = asyncio.run(run_to_end(store, spec, services=base.Services(request_sync=request_sync)))
    assert asked == ["main"]
    assert latest(run)["s"].output == {"source": "main", "result": {"revision": "abc"}}


async def _evaluate(policy: str, document: Mapping[str, Any]) -> base.PolicyVerdict:
    allowed = document["env"] != "prod"
    return base.PolicyVerdict(allowed=allowed, messages=() if allowed else ("prod is frozen",))


@pytest.mark.parametrize(("env", "ran", "skipped"), [("dev", "go", "stop"), ("prod", "stop", "go")])
def test_policy_branches_on_allow_and_deny(
    store: sqlite.SqliteStore, env: str, ran: str, skipped: str
) -> None:
    spec = workflow(
        [
            {
                "name": "p",
                "kind": "policy",
                "policy": {
                    "policy": "deploy.freeze",
                    "input": {"env": "{{ vars.env }}"},
                    "allow": ["go"],
                    "deny": ["stop"],
                },
            },
            {"name": "go", "dependsOn": ["p"], "command": ["true"]},
            {"name": "stop", "dependsOn": ["p"], "command": ["true"]},
        ]
    )
    run = asyncio.run(
        run_to_end(
            store, spec, variables={"env": env}, services=base.Services(evaluate_policy=_evaluate)
        )
    )
    assert (statuses(run)[ran], statuses(run)[skipped]) == (
        StepStatus.SUCCEEDED,
        StepStatus.SKIPPED,
    )


def test_policy_deny_without_branches_fails(store: sqlite.SqliteStore) -> None:
    spec = workflow(
        [
            {
                "name": "p",
                "kind": "policy",
                "policy": {"policy": "deploy.freeze", "input": {"env": "prod"}},
            }
        ]
    )
    run = asyncio.run(run_to_end(store, spec, services=base.Services(evaluate_policy=_evaluate)))
    assert run.error == "step p failed: deploy.freeze: prod is frozen"


def test_workflow_command_steps_take_the_runbook_expectations(store: sqlite.SqliteStore) -> None:
    document = '{"state": "down", "items": [{"id": 7}]}'
    expect = {
        "stdoutRegex": "^version [0-9]+$",
        "json": [{"path": "$.state", "equals": "ok"}, {"path": "$.items[0].id", "exists": True}],
    }
    spec = workflow(
        [
            {"name": "ok", "command": ["echo", "version 2"], "expect": {"stdoutRegex": "^version"}},
            {"name": "bad", "command": ["echo", document], "expect": expect},
            {"name": "any", "command": ["sh", "-c", "exit 5"], "expect": {"exitCode": None}},
        ]
    )
    run = asyncio.run(run_to_end(store, spec))
    assert statuses(run) == {
        "ok": StepStatus.SUCCEEDED,
        "bad": StepStatus.FAILED,
        "any": StepStatus.SUCCEEDED,
    }
    assert latest(run)["bad"].error == (
        'stdout does not match "^version [0-9]+$"; $.state is "down", expected "ok"'
    )


def test_progress_lines_follow_the_steps(store: sqlite.SqliteStore) -> None:
    lines: list[str] = []
    spec = workflow(
        [
            {
                "name": "flaky",
                "command": ["sh", "-c", "exit 2"],
                "retry": {"maxAttempts": 2, "backoff": "1ms", "jitter": False},
            },
            {"name": "next", "dependsOn": ["flaky"], "command": ["true"]},
        ]
    )
    asyncio.run(run_to_end(store, spec, progress=lines.append))
    assert lines == [
        "[1/2] flaky: running sh -c 'exit 2'",
        "[1/2] flaky: attempt 1/2 failed: exit code 2, expected 0; retry in 0.00s",
        "[1/2] flaky: failed: exit code 2, expected 0",
        "[2/2] next: skipped",
    ]
