"""PagerDuty (v3, signed) and Opsgenie (token) webhooks on a live daemon: a new incident that
matches a workflow's `incident` trigger starts it with the incident's fields as variables;
acknowledgements and resolutions are recorded as events; nothing unverified is acted on."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.runstate import RunKind, RunStatus
from tests import gitrepo
from tests.api import live

SECRET = "pd-signing-secret"
TOKEN = "opsgenie-token"
TRIAGE = """\
apiVersion: reconciler.dev/v1
kind: Workflow
metadata: {name: triage}
spec:
  triggers:
    - incident: {source: pagerduty, service: [checkout], title: "(?i)latency", urgency: [high]}
    - incident: {source: opsgenie, service: [checkout], urgency: [P1, P2]}
  steps:
    - name: note
      command: [printf, "%s|%s|%s", "{{ vars.incident_id }}", "{{ vars.incident_title }}",
                "{{ vars.incident_source }}"]
"""


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[live.Live]:
    monkeypatch.setenv("PD_SECRET", SECRET)
    monkeypatch.setenv("OG_TOKEN", TOKEN)
    repo = tmp_path / "repo"
    gitrepo.make_repo(repo, {"reconciler.yaml": live.SETTINGS_YAML, "workflows/t.yaml": TRIAGE})
    settings = live.settings_for(
        tmp_path / "data",
        {"name": "main", "path": str(repo), "ref": "main"},
        webhooks={"pagerdutySecretEnv": "PD_SECRET", "opsgenieTokenEnv": "OG_TOKEN"},
    )
    with live.serve(settings) as running:
        catalog = running.daemon.workflows.catalog
        running.wait_for(lambda: catalog.workflow("triage") is not None, "the workflow")
        yield running


def pagerduty(event_type: str, *, event_id: str, title: str, urgency: str = "high") -> bytes:
    """A v3 webhook body as PagerDuty documents it (only the fields read, plus a few)."""
    return json.dumps(
        {
            "event": {
                "id": event_id,
                "event_type": event_type,
                "resource_type": "incident",
                "occurred_at": "2026-01-01T00:00:00.000Z",
                "agent": {"id": "P1", "summary": "Ada Lovelace", "type": "user_reference"},
                "data": {
                    "id": "Q0INC1",
                    "type": "incident",
                    "number": 42,
                    "title": title,
                    "status": event_type.removeprefix("incident."),
                    "urgency": urgency,
                    "html_url": "https://example.pagerduty.com/incidents/Q0INC1",
                    "service": {"id": "PSVC1", "summary": "checkout", "type": "service_reference"},
                },
            }
        }
    ).encode()


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    # PagerDuty sends several signatures while a secret rotates: one matching is enough.
    return {"X-PagerDuty-Signature": f"v1={'0' * 64},v1={digest}"}


def workflow_runs(running: live.Live) -> list[Any]:
    return running.daemon.store.list_runs(kind=RunKind.WORKFLOW)


def events(running: live.Live, type_: str) -> list[Any]:
    return [e for e in running.daemon.store.events(limit=1000) if e.type == type_]


def test_a_matching_pagerduty_incident_starts_the_workflow_with_its_fields(
    served: live.Live,
) -> None:
    title = "Checkout latency $(touch pwned) {{ vars.x }}"
    body = pagerduty("incident.triggered", event_id="E1", title=title)
    answer = served.post("/webhooks/pagerduty", content=body, headers=signed(body))
    assert (answer.status_code, answer.json()) == (
        202,
        {"incident": "Q0INC1", "change": "triggered", "triggered": ["workflow:triage"]},
    )
    served.wait_for(
        lambda: [r.status for r in workflow_runs(served)] == [RunStatus.SUCCEEDED], "the run"
    )
    [run] = workflow_runs(served)
    assert run.trigger == "incident:pagerduty"
    [step] = [s for s in run.steps if s.name == "note"]
    assert step.output["stdout"] == f"Q0INC1|{title}|pagerduty"
    [recorded] = events(served, "IncidentTriggered")
    assert (recorded.object_key, recorded.data["service"], recorded.data["started"]) == (
        "incident/pagerduty/Q0INC1",
        "checkout",
        ["workflow:triage"],
    )
    # PagerDuty retries a delivery with the same event id: acted on once.
    again = served.post("/webhooks/pagerduty", content=body, headers=signed(body))
    assert again.json() == {"incident": "Q0INC1", "duplicate": True}
    assert len(workflow_runs(served)) == 1


def test_an_incident_that_matches_no_trigger_starts_nothing(served: live.Live) -> None:
    unmatched = (("E2", "Checkout latency", "low"), ("E3", "Disk full", "high"))
    for event_id, title, urgency in unmatched:
        body = pagerduty("incident.triggered", event_id=event_id, title=title, urgency=urgency)
        answer = served.post("/webhooks/pagerduty", content=body, headers=signed(body))
        assert (answer.status_code, answer.json()["triggered"]) == (202, [])
    assert workflow_runs(served) == []
    assert len(events(served, "IncidentTriggered")) == 2


def test_acknowledgements_and_resolutions_are_recorded(served: live.Live) -> None:
    for event_id, kind in (("E4", "incident.acknowledged"), ("E5", "incident.resolved")):
        body = pagerduty(kind, event_id=event_id, title="Checkout latency")
        answer = served.post("/webhooks/pagerduty", content=body, headers=signed(body))
        assert answer.status_code == 202
    [acked] = events(served, "IncidentAcknowledged")
    [resolved] = events(served, "IncidentResolved")
    assert acked.message == "pagerduty incident acknowledged by Ada Lovelace: Checkout latency"
    assert (resolved.data["actor"], resolved.data["status"]) == ("Ada Lovelace", "resolved")
    assert workflow_runs(served) == []


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({}, "missing X-PagerDuty-Signature header"),
        ({"X-PagerDuty-Signature": "v1=" + "0" * 64}, "signature does not match"),
        ("wrong-secret", "signature does not match"),
    ],
)
def test_an_unverified_pagerduty_delivery_is_refused(
    served: live.Live, headers: Any, error: str
) -> None:
    body = pagerduty("incident.triggered", event_id="E6", title="Checkout latency")
    sent = signed(body, "wrong-secret") if headers == "wrong-secret" else headers
    answer = served.post("/webhooks/pagerduty", content=body, headers=sent)
    assert (answer.status_code, answer.json()) == (401, {"error": error})
    assert workflow_runs(served) == [] and events(served, "IncidentTriggered") == []


def opsgenie(action: str, *, priority: str = "P1") -> bytes:
    """An Opsgenie webhook integration's post (alert action data as Opsgenie documents it)."""
    return json.dumps(
        {
            "action": action,
            "alert": {
                "alertId": "052652ac-5d1c",
                "message": "checkout errors",
                "tinyId": "23",
                "alias": "checkout-errors",
                "entity": "checkout",
                "priority": priority,
                "username": "grace@example.org",
                "tags": ["prod"],
            },
            "source": {"name": "web", "type": "API"},
            "integrationName": "reconciler",
        }
    ).encode()


def test_opsgenie_alerts_start_and_close_with_the_token(served: live.Live) -> None:
    refused = served.post("/webhooks/opsgenie", content=opsgenie("Create"))
    assert (refused.status_code, refused.json()) == (
        401,
        {"error": "missing X-Reconciler-Token header"},
    )
    auth = {"X-Reconciler-Token": TOKEN}
    made = served.post("/webhooks/opsgenie", content=opsgenie("Create"), headers=auth)
    assert made.json()["triggered"] == ["workflow:triage"]
    closed = served.post("/webhooks/opsgenie", content=opsgenie("Close"), headers=auth)
    assert closed.json()["change"] == "resolved"
    served.wait_for(
        lambda: [r.status for r in workflow_runs(served)] == [RunStatus.SUCCEEDED], "the run"
    )
    [run] = workflow_runs(served)
    [step] = [s for s in run.steps if s.name == "note"]
    assert step.output["stdout"] == "052652ac-5d1c|checkout errors|opsgenie"
    [resolved] = events(served, "IncidentResolved")
    assert resolved.message == "opsgenie incident resolved by grace@example.org: checkout errors"


def test_a_pagerduty_payload_of_the_wrong_shape_is_a_400_naming_the_key(
    served: live.Live,
) -> None:
    body = json.dumps({"event": {"id": "E7", "event_type": 5}}).encode()
    answer = served.post("/webhooks/pagerduty", content=body, headers=signed(body))
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("payload is invalid: event.event_type:")
