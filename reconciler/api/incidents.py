"""Incident webhooks: PagerDuty (v3) and Opsgenie, on `/webhooks/pagerduty` and
`/webhooks/opsgenie`.

PagerDuty signs the exact body with HMAC-SHA256 under the subscription's secret and sends
`X-PagerDuty-Signature: v1=<hex>` — several comma-separated while a secret is rotated; one
matching is enough. Opsgenie's webhook integration signs nothing but sends the custom
headers it is given: the configured token as `X-Reconciler-Token` (or `Authorization:
Bearer`). Nothing unverified is parsed. A verified payload is reduced to an
`incidents.Incident` by the models below (PagerDuty's `event.event_type` /
`event.data`, Opsgenie's `action` / `alert`); a delivery id seen before (PagerDuty's
`event.id`, Opsgenie's alert id and action) is acknowledged and ignored.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.api import openapi, payloads, webhooks
from reconciler.api.deps import Deps
from reconciler.api.payloads import Text
from reconciler.reconcile import incidents
from reconciler.reconcile.incidents import Change, Incident

PAGERDUTY_CHANGES = {
    "incident.triggered": Change.TRIGGERED,
    "incident.acknowledged": Change.ACKNOWLEDGED,
    "incident.resolved": Change.RESOLVED,
}
OPSGENIE_CHANGES = {"Create": Change.TRIGGERED, "Acknowledge": Change.ACKNOWLEDGED}
OPSGENIE_CHANGES |= {"Close": Change.RESOLVED}


class _Named(payloads._Payload):
    id: Text = ""
    summary: Text = ""
    name: Text = ""


class _PagerDutyIncident(payloads._Payload):
    id: Text = ""
    title: Text = ""
    status: Text = ""
    urgency: Text = ""
    html_url: Text = ""
    service: _Named = _Named()


class _PagerDutyEvent(payloads._Payload):
    id: Text
    event_type: Text
    resource_type: Text = ""
    agent: _Named = _Named()
    data: _PagerDutyIncident = _PagerDutyIncident()


class PagerDuty(payloads._Payload):
    event: _PagerDutyEvent


class _OpsgenieAlert(payloads._Payload):
    alert_id: Text = Field(alias="alertId")
    message: Text = ""
    entity: Text = ""
    priority: Text = ""
    username: Text = ""


class Opsgenie(payloads._Payload):
    action: Text
    alert: _OpsgenieAlert


def verify_pagerduty(body: bytes, header: str | None, *, secret: str) -> None:
    if not header:
        raise webhooks.WebhookRejected("missing X-PagerDuty-Signature header", status=401)
    expected = "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    given = [s.strip() for s in header.split(",")]
    if not any(hmac.compare_digest(expected.encode(), s.encode()) for s in given):
        raise webhooks.WebhookRejected("signature does not match", status=401)


def parse_pagerduty(payload: dict[str, Any]) -> tuple[str, Incident]:
    """(delivery id, incident) of a PagerDuty v3 webhook."""
    event = _read(PagerDuty, payload).event
    data = event.data
    change = PAGERDUTY_CHANGES.get(event.event_type, Change.OTHER)
    incident = Incident(
        source="pagerduty",
        change=change,
        id=data.id,
        title=data.title,
        service=data.service.summary or data.service.name,
        service_id=data.service.id,
        urgency=data.urgency,
        status=data.status,
        url=data.html_url,
        actor=event.agent.summary if change is not Change.TRIGGERED else "",
    )
    return event.id, incident


def parse_opsgenie(payload: dict[str, Any]) -> tuple[str, Incident]:
    """(delivery id, incident) of an Opsgenie webhook integration's post."""
    found = _read(Opsgenie, payload)
    alert, change = found.alert, OPSGENIE_CHANGES.get(found.action, Change.OTHER)
    incident = Incident(
        source="opsgenie",
        change=change,
        id=alert.alert_id,
        title=alert.message,
        service=alert.entity,
        urgency=alert.priority,
        actor=alert.username if change is not Change.TRIGGERED else "",
    )
    return f"{alert.alert_id}:{found.action}", incident


def _read(model: type[payloads.M], payload: Any) -> payloads.M:
    try:
        return payloads.read(model, payload)
    except payloads.Invalid as exc:
        raise webhooks.WebhookRejected(f"payload is invalid: {exc}", status=400) from None


Note = Callable[[Deps, str, str], None]
Secret = Callable[[str | None, str], str]


def routes(deps: Deps, *, note: Note, secret: Secret) -> list[Route]:
    """The two endpoints; `note` publishes a delivery's outcome, `secret` reads a configured
    secret or refuses the delivery (the forge webhooks' own)."""

    async def pagerduty(request: Request) -> Response:
        body = await request.body()
        key = secret(deps.settings.webhooks.pagerduty_secret_env, "PagerDuty webhook secret")
        verify_pagerduty(body, request.headers.get("x-pagerduty-signature"), secret=key)
        delivery_id, incident = parse_pagerduty(webhooks.load_json(body))
        return await _accept(deps, note, "pagerduty", delivery_id, incident)

    async def opsgenie(request: Request) -> Response:
        body = await request.body()
        token = secret(deps.settings.webhooks.opsgenie_token_env, "Opsgenie webhook token")
        given = request.headers.get("x-reconciler-token") or (
            request.headers.get("authorization", "").removeprefix("Bearer ").strip() or None
        )
        webhooks.verify_token(given, token=token, header="X-Reconciler-Token")
        delivery_id, incident = parse_opsgenie(webhooks.load_json(body))
        return await _accept(deps, note, "opsgenie", delivery_id, incident)

    def refusing(tool: str, handler: Handler) -> Handler:
        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except webhooks.WebhookRejected as exc:
                await run_in_threadpool(note, deps, tool, "rejected")
                return JSONResponse({"error": str(exc)}, status_code=exc.status)

        return handle

    return [
        Route("/webhooks/pagerduty", refusing("pagerduty", pagerduty), methods=["POST"]),
        Route("/webhooks/opsgenie", refusing("opsgenie", opsgenie), methods=["POST"]),
    ]


Handler = Callable[[Request], Awaitable[Response]]


async def _accept(
    deps: Deps, note: Note, tool: str, delivery_id: str, incident: Incident
) -> Response:
    at = deps.clock.now()
    first = await run_in_threadpool(deps.store.first_delivery, tool, delivery_id, at=at)
    if not first:
        await run_in_threadpool(note, deps, tool, "duplicate")
        return JSONResponse({"incident": incident.id, "duplicate": True})
    started = incidents.receive(deps.workflows, incident)
    recorded = incidents.event(incident, at=at, started=started)
    if recorded is not None:
        await run_in_threadpool(deps.bus.publish, recorded)
    await run_in_threadpool(note, deps, tool, "accepted")
    body = {"incident": incident.id, "change": incident.change.value, "triggered": started}
    return JSONResponse(body, status_code=202)


def openapi_paths() -> dict[str, Any]:
    o = openapi
    accepted = o.obj(
        {
            "incident": o.STRING,
            "change": o.enum([c.value for c in Change]),
            "triggered": {"type": "array", "items": o.STRING},
        },
        required=["incident", "change", "triggered"],
    )
    errors = {
        "400": o.error("not a JSON object, nested too deep, or a field of the wrong type"),
        "401": o.error("no valid signature or token, or no secret configured"),
        "413": o.error("the body is over http.maxWebhookBytes (25 MiB)"),
    }
    found = {}
    for tool, how in (("pagerduty", "X-PagerDuty-Signature"), ("opsgenie", "a token header")):
        path = o.post(
            f"a {tool} incident webhook (verified by {how})",
            accepted,
            errors=errors,
            secured=False,
        )
        path["post"]["security"] = []
        path["post"]["responses"]["200"] = o.response(
            "a delivery id already acknowledged: nothing is done again",
            o.obj({"incident": o.STRING, "duplicate": o.BOOLEAN}),
        )
        found[f"/webhooks/{tool}"] = path
    return found
