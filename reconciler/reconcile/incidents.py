"""Incidents from PagerDuty and Opsgenie: which workflows a new one starts, and the events
its acknowledgement and resolution leave.

An `Incident` is what the webhook intake (`api.incidents`) reduced a delivery to. A new
incident starts every workflow with a matching `incident` trigger (source, service, title
regex, urgency), with the incident's fields as the run's variables (`incident_id`,
`incident_title`, ...): values, handed to steps as data like every variable. Every incident
event is published (`IncidentTriggered`, `IncidentAcknowledged`, `IncidentResolved`), so
the event feed and the audit log record who acknowledged and resolved what.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.events import Event, EventType
from reconciler.reconcile.automation import Automation
from reconciler.reconcile.workflows import Catalog
from reconciler.specs import flows

log = logging.getLogger(__name__)


class Change(StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    OTHER = "other"  # verified, nothing to act on (annotated, reassigned, ...)


EVENTS = {
    Change.TRIGGERED: EventType.INCIDENT_TRIGGERED,
    Change.ACKNOWLEDGED: EventType.INCIDENT_ACKNOWLEDGED,
    Change.RESOLVED: EventType.INCIDENT_RESOLVED,
}


@dataclass(frozen=True, kw_only=True)
class Incident:
    source: str  # pagerduty | opsgenie
    change: Change
    id: str
    title: str = ""
    service: str = ""
    service_id: str = ""
    urgency: str = ""
    status: str = ""
    url: str = ""
    actor: str = ""  # who acknowledged or resolved it, when the tool says


def matches(trigger: flows.IncidentTrigger, incident: Incident) -> bool:
    services = {incident.service, incident.service_id} - {""}
    return (
        (trigger.source is None or trigger.source == incident.source)
        and (not trigger.service or bool(services & set(trigger.service)))
        and (trigger.title is None or re.search(trigger.title, incident.title) is not None)
        and (not trigger.urgency or incident.urgency in trigger.urgency)
    )


def workflows_for(catalog: Catalog, incident: Incident) -> list[str]:
    """Names of the workflows a new `incident` starts."""
    return sorted(
        name
        for name, entry in catalog.workflows().items()
        if any(t.incident and matches(t.incident, incident) for t in entry.workflow.spec.triggers)
    )


def variables(incident: Incident) -> dict[str, str]:
    return {f"incident_{k}": str(v) for k, v in asdict(incident).items() if k != "change"}


def receive(automation: Automation, incident: Incident) -> list[str]:
    """Publish the incident's event and, for a new one, start the matching workflows (call
    on the event loop); returns `workflow:<name>` of each started."""
    started = []
    if incident.change is Change.TRIGGERED:
        for name in workflows_for(automation.catalog, incident):
            try:
                automation.submit(
                    name,
                    trigger=f"incident:{incident.source}",
                    variables=variables(incident),
                    needs="incident",
                )
            except ReconcilerError as exc:
                log.warning("incident %s starts nothing: %s", incident.id, exc)
                continue
            started.append(f"workflow:{name}")
    return started


def event(incident: Incident, *, at: Any, started: list[str]) -> Event | None:
    """The event recording what the tool said, or None for a change nothing records."""
    kind = EVENTS.get(incident.change)
    if kind is None:
        return None
    by = f" by {incident.actor}" if incident.actor else ""
    return Event(
        type=kind,
        at=at,
        source="",
        object_key=f"incident/{incident.source}/{incident.id}",
        message=f"{incident.source} incident {incident.change.value}{by}: {incident.title}",
        data={**asdict(incident), "actor": incident.actor or None, "started": started},
    )
