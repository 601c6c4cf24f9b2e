"""The OpenAPI 3.0 description of the JSON API, served at `/api/v1/openapi.json`.

Written by hand next to `views.py` (whose shapes it describes) rather than derived from the
code, so it is a contract a test can hold the server to: every JSON endpoint, its
parameters, every status it answers with and the schema of every body. Endpoints added by
other modules pass their own paths in `extra_paths`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler import __version__
from reconciler.conditions import ConditionStatus
from reconciler.policy.decisions import Action, Outcome
from reconciler.reconcile.effective import Origin
from reconciler.runstate import RunKind, RunStatus, StepStatus
from reconciler.specs.models import Enforcement

JSON = "application/json"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


def obj(
    properties: dict[str, Any], *, required: list[str] | None = None, extra: bool = False
) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": extra,
    }


def enum(values: Any) -> dict[str, Any]:
    return {"type": "string", "enum": [str(v) for v in values]}


def _setting(value: dict[str, Any]) -> dict[str, Any]:
    """An effective setting and where it came from."""
    return obj({"value": value, "origin": enum(Origin)})


STRING, INTEGER, BOOLEAN = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
TIME = {"type": "string", "format": "date-time"}
ANY: dict[str, Any] = {}
DIFF = {  # field-level changes: `old` the value before (or live), `new` Git's
    "type": "array",
    "items": obj(
        {"op": STRING, "path": STRING, "old": ANY, "new": ANY},
        required=["op", "path"],
        extra=True,
    ),
}


def schemas() -> dict[str, Any]:
    condition = obj(
        {
            "type": STRING,
            "status": enum(ConditionStatus),
            "reason": STRING,
            "message": STRING,
            "observedRevision": nullable(STRING),
            "lastTransitionTime": nullable(TIME),
        }
    )
    step = obj(
        {
            "name": STRING,
            "status": enum(StepStatus),
            "attempt": INTEGER,
            "started_at": nullable(TIME),
            "finished_at": nullable(TIME),
            "output": {"type": "object"},
            "error": nullable(STRING),
        },
        extra=True,
    )
    return {
        "Error": obj({"error": STRING}),
        "Condition": condition,
        "Source": obj(
            {
                "name": STRING,
                "location": STRING,
                "ref": STRING,
                "suspended": BOOLEAN,
                "reconciling": BOOLEAN,
                "revision": nullable(STRING),
                "rejectedRevision": nullable(STRING),
                "lastSyncAt": nullable(TIME),
                "lastAuditAt": nullable(TIME),
                "lastTrigger": nullable(STRING),
                "conditions": {"type": "array", "items": ref("Condition")},
                "lastResult": {"type": "object", "additionalProperties": INTEGER},
                "orphans": {"type": "array", "items": STRING},
                "settings": obj(
                    {
                        "interval": _setting(STRING),
                        "auditInterval": _setting(STRING),
                        "selfHeal": _setting(BOOLEAN),
                    }
                ),
            }
        ),
        "Resource": obj(
            {
                "key": STRING,
                "kind": STRING,
                "namespace": nullable(STRING),
                "name": STRING,
                "source": STRING,
                "observedGeneration": INTEGER,
                "conditions": {"type": "array", "items": ref("Condition")},
                "lastAttemptedRevision": nullable(STRING),
                "lastAppliedRevision": nullable(STRING),
                "appliedChanges": DIFF,
                "drift": nullable(
                    obj(
                        {
                            "fields": DIFF,
                            "revision": nullable(STRING),
                            "detectedAt": TIME,
                            "correctedAt": nullable(TIME),
                        }
                    )
                ),
                "history": {
                    "type": "array",
                    "items": obj(
                        {
                            "at": nullable(TIME),
                            "revision": nullable(STRING),
                            "outcome": STRING,
                            "message": STRING,
                        }
                    ),
                },
                "updatedAt": nullable(TIME),
            }
        ),
        "Decision": obj(
            {
                "policy": STRING,
                "binding": STRING,
                "resource": obj(
                    {
                        "apiVersion": STRING,
                        "kind": STRING,
                        "namespace": nullable(STRING),
                        "name": STRING,
                        "path": STRING,
                    }
                ),
                "outcome": enum(Outcome),
                "enforcement": enum(Enforcement),
                "action": enum(Action),
                "messages": {"type": "array", "items": STRING},
                "revision": nullable(STRING),
                "inputDigest": STRING,
                "explanation": STRING,
                "at": TIME,
            }
        ),
        "Event": obj(
            {
                "id": INTEGER,
                "at": TIME,
                "type": STRING,
                "objectKey": nullable(STRING),
                "message": STRING,
                "data": {"type": "object"},
            }
        ),
        "Step": step,
        "Run": obj(
            {
                "id": STRING,
                "kind": enum(RunKind),
                "name": STRING,
                "trigger": STRING,
                "revision": nullable(STRING),
                "status": enum(RunStatus),
                "steps": {"type": "array", "items": ref("Step")},
                "started_at": nullable(TIME),
                "finished_at": nullable(TIME),
                "error": nullable(STRING),
            },
            required=[
                "id",
                "kind",
                "name",
                "trigger",
                "revision",
                "status",
                "steps",
                "started_at",
                "finished_at",
                "error",
            ],
            extra=True,
        ),
    }


def response(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    if schema is None:
        return {"description": description}
    return {"description": description, "content": {JSON: {"schema": schema}}}


def error(description: str) -> dict[str, Any]:
    return response(description, ref("Error"))


SECURED = {"401": error("no valid token"), "403": error("the token's role is too low")}


def list_of(key: str, item: str) -> dict[str, Any]:
    return obj({key: {"type": "array", "items": ref(item)}})


def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def path_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": STRING,
        "description": description,
    }


def count(name: str, default: int, description: str) -> dict[str, Any]:
    return query(name, {"type": "integer", "minimum": 0, "default": default}, description)


def get(
    summary: str,
    body: dict[str, Any],
    *,
    parameters: Sequence[dict[str, Any]] = (),
    errors: Mapping[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    responses = {"200": response(summary, body), **SECURED, **(errors or {})}
    return {"get": {"summary": summary, "parameters": list(parameters), "responses": responses}}


def post(
    summary: str,
    body: dict[str, Any],
    *,
    parameters: Sequence[dict[str, Any]] = (),
    errors: Mapping[str, dict[str, Any]] | None = None,
    secured: bool = True,
) -> dict[str, Any]:
    responses = {"202": response(summary, body), **(SECURED if secured else {}), **(errors or {})}
    return {"post": {"summary": summary, "parameters": list(parameters), "responses": responses}}


BAD_QUERY = {"400": error("a query parameter is unusable")}
NO_SOURCE = {"404": error("no such source")}


def paths() -> dict[str, Any]:
    limit = count("limit", 100, "most entries to return (above 1000 reads as 1000)")
    name = path_param("name", "source name")
    action = obj({"source": STRING, "action": enum(["sync", "suspend", "resume"])})
    webhook = obj(
        {
            "kind": enum(["push", "tag", "branch_deleted", "pull_request", "ping", "other"]),
            "triggered": {"type": "array", "items": STRING},
            "simulations": {"type": "array", "items": STRING},
        },
        required=["kind", "triggered"],
    )
    hook_errors = {
        "400": error("not a JSON object, nested too deep, or a field of the wrong type"),
        "401": error("no valid signature or token, or no secret configured"),
        "413": error("the body is over http.maxWebhookBytes (25 MiB)"),
    }
    duplicate = obj({"kind": STRING, "duplicate": BOOLEAN})
    found: dict[str, Any] = {
        "/healthz": {
            "get": {
                "summary": "liveness",
                "security": [],
                "responses": {"200": response("serving", obj({"status": enum(["ok"])}))},
            }
        },
        "/readyz": {
            "get": {
                "summary": "readiness",
                "security": [],
                "responses": {
                    status: response(
                        text,
                        obj(
                            {
                                "ready": BOOLEAN,
                                "store": BOOLEAN,
                                "sources": {"type": "object", "additionalProperties": BOOLEAN},
                                "reason": STRING,
                                "replica": STRING,
                                "replicas": {
                                    "type": "array",
                                    "items": obj(
                                        {
                                            "name": STRING,
                                            "lastHeartbeat": TIME,
                                            "live": BOOLEAN,
                                            "sources": {"type": "array", "items": STRING},
                                        }
                                    ),
                                },
                                "owners": {
                                    "type": "object",
                                    "additionalProperties": nullable(STRING),
                                },
                            },
                            required=["ready", "store", "sources", "replica"],
                        ),
                    )
                    for status, text in (("200", "ready"), ("503", "not ready"))
                },
            }
        },
        "/api/v1/sources": get("every source", list_of("sources", "Source")),
        "/api/v1/sources/{name}": get(
            "one source", ref("Source"), parameters=[name], errors=NO_SOURCE
        ),
        "/api/v1/sync": post(
            "reconcile every source now", obj({"triggered": {"type": "array", "items": STRING}})
        ),
        "/api/v1/resources": get(
            "managed objects, by key",
            list_of("resources", "Resource"),
            parameters=[
                query("source", STRING, "only this source's objects"),
                query("condition", STRING, "only objects having this condition type"),
                query("status", enum(ConditionStatus), "the condition's status (default True)"),
            ],
            errors=BAD_QUERY,
        ),
        "/api/v1/resources/{key}": get(
            "one object",
            ref("Resource"),
            parameters=[path_param("key", "kind/namespace/name")],
            errors={"404": error("no such object")},
        ),
        "/api/v1/decisions": get(
            "the decision log, newest first",
            list_of("decisions", "Decision"),
            parameters=[
                query("policy", STRING, "Rego package"),
                query("key", STRING, "object key"),
                limit,
            ],
            errors=BAD_QUERY,
        ),
        "/api/v1/violations": get(
            "current violations",
            list_of("violations", "Decision"),
            parameters=[query("policy", STRING, "Rego package")],
        ),
        "/api/v1/events": get(
            "the event feed, oldest first",
            list_of("events", "Event"),
            parameters=[count("since", 0, "only events with a larger id"), limit],
            errors=BAD_QUERY,
        ),
        "/api/v1/runs": get(
            "runs, newest first",
            list_of("runs", "Run"),
            parameters=[count("limit", 50, "most runs to return")],
            errors=BAD_QUERY,
        ),
        "/api/v1/openapi.json": get("this document", {"type": "object"}),
    }
    for verb in ("sync", "suspend", "resume"):
        found[f"/api/v1/sources/{{name}}/{verb}"] = post(
            f"{verb} one source", action, parameters=[name], errors=NO_SOURCE
        )
    for forge in ("github", "gitlab", "generic"):
        found[f"/webhooks/{forge}"] = post(
            f"a {forge} delivery (verified by its own signature or token)",
            webhook,
            errors=hook_errors,
            secured=False,
        )
        found[f"/webhooks/{forge}"]["post"]["security"] = []
        found[f"/webhooks/{forge}"]["post"]["responses"]["200"] = response(
            "a delivery id already acknowledged: nothing is done again", duplicate
        )
    return found


STREAM = {
    "/api/v1/stream": {
        "get": {
            "summary": "the event bus as server-sent events (text/event-stream, never ends)",
            "responses": {
                "200": {
                    "description": "an endless event stream",
                    "content": {"text/event-stream": {"schema": STRING}},
                },
                **SECURED,
            },
        }
    }
}


def document(*, extra_paths: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The whole OpenAPI 3.0 document; `extra_paths` adds (or replaces) path items."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "reconciler",
            "version": __version__,
            "description": "The reconciler daemon's HTTP API (docs/api.md).",
        },
        "paths": {**paths(), **STREAM, **(extra_paths or {})},
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "reconciler_token"},
            },
        },
        "security": [{"bearer": []}, {"cookie": []}],
    }
