"""An approval waiting in a real run: the engine's ApprovalRequested and ApprovalEscalated
events reach the notifier and are delivered, with the step and its approvers."""

from __future__ import annotations

import asyncio
import json

from reconciler.clock import SystemClock
from reconciler.notify.notifier import Notifier
from reconciler.notify.sender import Sender
from reconciler.notify.settings import NotificationSettings
from reconciler.run.engine import Engine
from reconciler.specs import flows
from reconciler.store.sqlite import SqliteStore
from tests.notify.conftest import Receiver

SPEC = flows.Workflow.model_validate(
    {
        "apiVersion": "reconciler.dev/v1",
        "kind": "Workflow",
        "metadata": {"name": "deploy"},
        "spec": {
            "steps": [
                {
                    "name": "ok",
                    "kind": "approval",
                    "approval": {
                        "message": "deploy?",
                        "approvers": ["alice"],
                        "timeout": "200ms",
                        "escalate": ["bob"],
                    },
                }
            ]
        },
    }
)


def test_an_approval_waiting_and_escalated_is_notified(
    store: SqliteStore, receiver: Receiver
) -> None:
    chosen = NotificationSettings.model_validate(
        {
            "channels": [{"name": "ops", "type": "slack", "url": receiver.url}],
            "routes": [{"events": ["ApprovalRequested", "ApprovalEscalated"], "channels": ["ops"]}],
        }
    )
    clock = SystemClock()
    notifier = Notifier(chosen, store=store, clock=clock)

    async def scenario() -> str:
        engine = Engine(store=store, clock=clock, on_event=notifier.on_record)
        run = await engine.wait(await engine.start(SPEC))
        await engine.close()
        return run.id

    run_id = asyncio.run(scenario())
    assert Sender(chosen, store=store, clock=clock).deliver_due() == 2
    texts = [json.loads(p.body)["text"] for p in receiver.posts]
    assert texts == [
        f"[warning] Approval waiting: step ok of run {run_id}: approval of ok is waiting",
        f"[critical] Approval escalated: step ok of run {run_id}: approval of ok is waiting; "
        "escalating",
    ]
    [asked, _] = reversed(store.notifications())
    assert asked.message["event"]["data"] == {
        "run": run_id,
        "step": "ok",
        "approvers": ["alice"],
        "prompt": "deploy?",
    }
