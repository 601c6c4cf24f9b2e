#!/usr/bin/env python3
"""Example `exec` provider: manages a small local "service" whose state is a JSON file.

reconciler's exec provider runs this program once per operation, writes ONE JSON request
to its stdin and reads ONE JSON response from its stdout:

    request   {"action": "observe" | "apply" | "delete", "resource": <the ExecResource document>}

    observe   {"observed": {"port": 8080, "replicas": 2, "version": "1.4.0", "cpu": 1.0}}
              or {"observed": null} when the service does not exist
    apply     {"ok": true}     make the live state equal `resource.spec.desired`
    delete    {"ok": true}     remove the service (succeeds when it is already gone)
    failure   {"error": "what went wrong"}, and exit status 1

`observed` has the same keys as `spec.desired`, so reconciler can diff the two directly.
apply and delete must be idempotent: reconciler retries them after failures. Anything
written to stderr is kept in the run log. The state lives in
$RECONCILER_EXAMPLE_STATE_DIR/services/<name>.json, by default under the data directory the
daemon gives every process it starts: $RECONCILER_DATA_DIR/files/services/<name>.json.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

FIELDS: dict[str, type] = {"port": int, "replicas": int, "version": str, "cpu": float}


class ProviderError(Exception):
    """A request this provider cannot carry out; reported as {"error": ...}."""


def state_file(resource: dict[str, Any]) -> Path:
    name = str((resource.get("metadata") or {}).get("name") or "")
    if not name or "/" in name or name.startswith("."):
        raise ProviderError(f"metadata.name {name!r} is not a valid service name")
    return state_dir() / "services" / f"{name}.json"


def state_dir() -> Path:
    explicit = os.environ.get("RECONCILER_EXAMPLE_STATE_DIR")
    if explicit:
        return Path(explicit)
    data_dir = os.environ.get("RECONCILER_DATA_DIR")
    if not data_dir:
        raise ProviderError(
            "set RECONCILER_EXAMPLE_STATE_DIR (the daemon sets RECONCILER_DATA_DIR)"
        )
    return Path(data_dir) / "files"


def desired_state(resource: dict[str, Any]) -> dict[str, Any]:
    desired = (resource.get("spec") or {}).get("desired")
    if not isinstance(desired, dict):
        raise ProviderError("spec.desired must be a mapping")
    unknown = sorted(set(desired) - set(FIELDS))
    if unknown:
        raise ProviderError(f"spec.desired has unknown keys: {', '.join(unknown)}")
    for key, kind in FIELDS.items():
        allowed = (int, float) if kind is float else (kind,)  # cpu: 1 is as good as 1.0
        if key in desired and type(desired[key]) not in allowed:
            raise ProviderError(f"spec.desired.{key} must be a {kind.__name__}")
    if not 1 <= desired.get("port", 8080) <= 65535:
        raise ProviderError("spec.desired.port must be between 1 and 65535")
    if not 0 <= desired.get("replicas", 1) <= 64:
        raise ProviderError("spec.desired.replicas must be between 0 and 64")
    return desired


def observe(resource: dict[str, Any]) -> dict[str, Any]:
    path = state_file(resource)
    if not path.exists():
        return {"observed": None}
    return {"observed": json.loads(path.read_text("utf-8"))}


def apply(resource: dict[str, Any]) -> dict[str, Any]:
    desired = desired_state(resource)
    path = state_file(resource)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.tmp")
    partial.write_text(json.dumps(desired, indent=2, sort_keys=True) + "\n", "utf-8")
    os.replace(partial, path)  # readers never see a half-written state file
    print(f"applied {path}", file=sys.stderr)
    return {"ok": True}


def delete(resource: dict[str, Any]) -> dict[str, Any]:
    state_file(resource).unlink(missing_ok=True)
    return {"ok": True}


ACTIONS = {"observe": observe, "apply": apply, "delete": delete}


def handle(request: Any) -> dict[str, Any]:
    if not isinstance(request, dict):
        raise ProviderError("the request must be a JSON object")
    action = ACTIONS.get(request.get("action"))
    if action is None:
        raise ProviderError(
            f"unknown action {request.get('action')!r}; expected one of " + ", ".join(ACTIONS)
        )
    resource = request.get("resource")
    if not isinstance(resource, dict):
        raise ProviderError("request.resource must be the resource document")
    return action(resource)


def main() -> int:
    try:
        response = handle(json.loads(sys.stdin.read()))
    except json.JSONDecodeError as exc:
        response = {"error": f"the request is not JSON: {exc}"}
    except (ProviderError, OSError) as exc:
        response = {"error": str(exc)}
    json.dump(response, sys.stdout)
    sys.stdout.write("\n")
    return 1 if "error" in response else 0


if __name__ == "__main__":
    sys.exit(main())
