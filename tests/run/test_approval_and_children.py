"""Approval steps answered by people, and steps that run a child workflow or runbook."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from reconciler.errors import UsageError
from reconciler.run.engine import ApprovalRefused
from reconciler.run.steps import base
from reconciler.runstate import RunRecord, RunStatus, StepStatus
from reconciler.specs import flows
from reconciler.store import sqlite
from tests.run.helpers import (
    engine,
    latest,
    run_to_end,
    runbook,
    statuses,
    until,
    workflow,
)

GATE = workflow(
    [
        {
            "name": "ok",
            "kind": "approval",
            "approval": {
                "message": "deploy?",
                "approvers": ["alice"],
                "timeout": "200ms",
                "escalate": ["bob"],
            },
        },
        {"name": "deploy", "dependsOn": ["ok"], "command": ["true"]},
    ]
)


@pytest.mark.parametrize("approved", [True, False])
def test_approval_records_who_answered(store: sqlite.SqliteStore, approved: bool) -> None:
    spec = workflow(
        [
            {
                **GATE.spec.steps[0].model_dump(by_alias=True, exclude_none=True),
                "approval": {"approvers": ["alice"]},
            },
            {"name": "deploy", "dependsOn": ["ok"], "command": ["true"]},
        ]
    )

    async def scenario() -> None:
        eng = engine(store)
        run_id = await eng.start(spec)
        await until(lambda: eng.waiting(run_id) == ["ok"])
        await eng.recorder.flush()
        waiting = await eng.get(run_id)
        assert (waiting.status, waiting.error) == (RunStatus.WAITING, "waiting for approval of ok")
        with pytest.raises(ApprovalRefused) as refused:
            await eng.approve(run_id, "ok", approver="mallory", approved=True)
        assert str(refused.value) == "mallory may not approve step ok; approvers: alice"
        await eng.approve(run_id, "ok", approver="alice", approved=approved, comment="seen")
        run = await eng.wait(run_id)
        await eng.close()
        step = latest(run)["ok"]
        assert (step.output["approver"], step.output["approved"]) == ("alice", approved)
        [answered] = [e for e in store.events() if e.type == "ApprovalAnswered"]
        assert (answered.object_key, answered.data) == (
            f"run/{run_id}",
            {
                "run": run_id,
                "step": "ok",
                "approver": "alice",
                "actor": "alice",
                "role": None,
                "approved": approved,
                "comment": "seen",
            },
        )
        [entry] = store.audit_entries()
        assert (entry.type, entry.actor, entry.data) == (
            "ApprovalAnswered",
            "alice",
            answered.data,
        )
        assert store.verify_audit().intact
        if approved:
            assert statuses(run)["deploy"] is StepStatus.SUCCEEDED
        else:
            assert run.error == "step ok failed: rejected by alice: seen"
            assert statuses(run)["deploy"] is StepStatus.SKIPPED

    asyncio.run(scenario())


def test_approval_times_out_after_escalating(store: sqlite.SqliteStore) -> None:
    run = asyncio.run(run_to_end(store, GATE))
    assert (run.status, run.error) == (
        RunStatus.FAILED,
        "step ok failed: no approval within 200ms; default: reject",
    )
    # Asked once, though the step waits twice (before and after escalating).
    requested, escalated = store.events()
    assert (requested.type, requested.object_key, requested.message, requested.data) == (
        "ApprovalRequested",
        f"run/{run.id}",
        "approval of ok is waiting",
        {"run": run.id, "step": "ok", "approvers": ["alice"], "prompt": "deploy?"},
    )
    assert (escalated.type, escalated.object_key, escalated.data) == (
        "ApprovalEscalated",
        f"run/{run.id}",
        {"step": "ok", "escalate": ["bob"], "message": "deploy?"},
    )


CHILD = workflow([{"name": "echo", "command": ["echo", "{{ vars.x }}"]}], name="child")


def test_subflow_runs_the_named_workflow_and_returns_its_outputs(store: sqlite.SqliteStore) -> None:
    spec = workflow(
        [
            {
                "name": "sub",
                "kind": "subflow",
                "subflow": {"workflow": "child", "inputs": {"x": "hello {{ vars.who }}"}},
            },
            {
                "name": "use",
                "dependsOn": ["sub"],
                "command": ["echo", "{{ steps.sub.outputs.steps.echo.stdout }}"],
            },
        ]
    )
    services = base.Services(workflow={"child": CHILD}.get)
    run = asyncio.run(run_to_end(store, spec, variables={"who": "you"}, services=services))
    assert latest(run)["use"].output["stdout"] == "hello you\n\n"
    child = store.get_run(f"{run.id}/sub#1")
    assert child is not None
    assert (child.name, child.trigger, child.status) == (
        "child",
        f"run:{run.id}",
        RunStatus.SUCCEEDED,
    )


def test_subflow_of_an_unknown_workflow_fails(store: sqlite.SqliteStore) -> None:
    spec = workflow([{"name": "sub", "kind": "subflow", "subflow": {"workflow": "nope"}}])
    run = asyncio.run(run_to_end(store, spec))
    assert run.error == 'step sub failed: no workflow "nope"'


def _runbook(tmp_path: Path) -> flows.Runbook:
    log = tmp_path / "log"
    return runbook(
        [
            {
                "name": "check",
                "command": ["echo", "disk of {{ vars.host }}"],
                "expect": {"stdout": "disk of"},
            },
            {
                "name": "clean",
                "dependsOn": ["check"],
                "command": ["sh", "-c", "echo clean >> $0", str(log)],
                "rollback": {"command": ["sh", "-c", "echo undo-clean >> $0", str(log)]},
            },
            {"name": "verify", "dependsOn": ["clean"], "command": ["test", "{{ vars.ok }}"]},
        ],
        name="disk-full",
        variables=[
            {"name": "host", "required": True, "pattern": "^[a-z0-9.-]+$"},
            {"name": "ok", "default": "yes"},
        ],
    )


def test_runbook_step_runs_a_sub_dag_and_rolls_back_on_failure(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    book = _runbook(tmp_path)
    spec = workflow(
        [
            {
                "name": "fix",
                "kind": "runbook",
                "runbook": {"name": "disk-full", "variables": {"host": "{{ vars.h }}", "ok": ""}},
            }
        ]
    )
    services = base.Services(runbook=lambda name: book if name == "disk-full" else None)
    run = asyncio.run(run_to_end(store, spec, variables={"h": "web1"}, services=services))
    assert run.error == (
        "step fix failed: run " + run.id + "/fix#1 failed: "
        "step verify failed: exit code 1, expected 0"
    )
    child = store.get_run(f"{run.id}/fix#1")
    assert child is not None
    assert statuses(child) == {
        "check": StepStatus.SUCCEEDED,
        "clean": StepStatus.SUCCEEDED,
        "verify": StepStatus.FAILED,
        "clean.rollback": StepStatus.SUCCEEDED,
    }
    assert (tmp_path / "log").read_text() == "clean\nundo-clean\n"


def test_runbook_variables_are_checked_before_anything_runs(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    async def scenario() -> None:
        eng = engine(store)
        with pytest.raises(UsageError) as caught:
            await eng.start_runbook(_runbook(tmp_path), variables={"host": "a; rm -rf /"})
        assert str(caught.value) == (
            'runbook disk-full: variable "host": "a; rm -rf /" does not match pattern'
            ' "^[a-z0-9.-]+$"'
        )
        run_id = await eng.start_runbook(_runbook(tmp_path), variables={"host": "db1"})
        run = await eng.wait(run_id)
        await eng.close()
        assert run.status is RunStatus.SUCCEEDED
        assert latest(run)["check"].output["stdout"] == "disk of db1\n"

    asyncio.run(scenario())
    assert store.list_runs()[0].status is RunStatus.SUCCEEDED


def test_runbook_variables_are_typed_from_text_and_missing_ones_render_empty(
    store: sqlite.SqliteStore,
) -> None:
    book = runbook(
        [{"name": "show", "command": ["echo", "{{ vars.n }}+1|{{ vars.note }}|"]}],
        variables=[{"name": "n", "type": "integer", "required": True}, {"name": "note"}],
    )

    async def scenario() -> RunRecord:
        eng = engine(store)
        run = await eng.wait(await eng.start_runbook(book, variables={"n": "3"}))
        await eng.close()
        return run

    run = asyncio.run(scenario())
    assert latest(run)["show"].output["stdout"] == "3+1||\n"
    stored = store.get_run(run.id)
    assert stored is not None
    meta = next(s for s in stored.steps if s.name == "#run")
    assert meta.output["variables"] == {"n": 3}
