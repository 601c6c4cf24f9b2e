"""CLI verbs that talk to a running daemon over its HTTP API: `status` and `sync`.

`status` exits 0 when every source and every resource is Ready (a suspended source is
deliberately idle and counts as fine) and 1 when one is not, like a failed policy check,
so scripts can act on it; an unreachable daemon is an error (1, with an `error:` line).
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from reconciler import httpclient
from reconciler.cli import options, output
from reconciler.errors import TransientError, UsageError

DEFAULT_URL = "http://127.0.0.1:8080"


def declare_sync(p: argparse.ArgumentParser) -> None:
    add_arguments(p)
    p.add_argument("--source", help="only this source")
    p.set_defaults(handler=run_sync)


def declare_status(p: argparse.ArgumentParser) -> None:
    add_arguments(p)
    options.add_format(p, "table", "json")
    p.set_defaults(handler=run_status)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--url",
        default=os.environ.get("RECONCILER_URL", DEFAULT_URL),
        help=f"daemon address (default: $RECONCILER_URL or {DEFAULT_URL})",
    )
    p.add_argument(
        "--token",
        default=os.environ.get("RECONCILER_TOKEN"),
        help="access token sent as a bearer token (default: $RECONCILER_TOKEN)",
    )
    p.add_argument(
        "--cacert",
        default=os.environ.get("RECONCILER_CACERT"),
        metavar="FILE",
        help="PEM certificate(s) to verify an https daemon with, instead of the system's"
        " trusted ones (default: $RECONCILER_CACERT)",
    )


def call(
    url: str,
    path: str,
    *,
    method: str = "GET",
    token: str | None = None,
    body: dict[str, Any] | None = None,
    cacert: str | None = None,
) -> Any:
    """The daemon's JSON answer to `method path` (with `body` as JSON when given);
    an https daemon is verified against `cacert` when given, else the system's CAs."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        answer = httpclient.request(
            method,
            url.rstrip("/") + path,
            headers=headers,
            json=body,
            timeout=10,
            cacert=cacert,
        )
    except httpclient.HttpFailed as exc:
        raise TransientError(f"cannot reach the daemon at {url}: {exc.reason}") from None
    if not answer.ok:
        where = path.partition("?")[0]
        raise UsageError(f"{method} {where}: HTTP {answer.status}: {_detail(answer)}")
    try:
        return answer.json()
    except ValueError:
        raise TransientError(f"{method} {path}: the daemon answered with no JSON") from None


def ask(
    args: argparse.Namespace, path: str, *, method: str = "GET", body: dict[str, Any] | None = None
) -> Any:
    """`call` the daemon the command line names (`--url`, `--token`, `--cacert`)."""
    return call(args.url, path, method=method, token=args.token, body=body, cacert=args.cacert)


def _detail(answer: httpclient.Response) -> str:
    """The API's `{"error": ...}` message, else the body as text."""
    try:
        found = answer.json()
    except ValueError:
        return answer.text.strip() or f"status {answer.status}"
    return str(found["error"]) if isinstance(found, dict) and "error" in found else answer.text


def run_sync(args: argparse.Namespace) -> int:
    path = f"/api/v1/sources/{args.source}/sync" if args.source else "/api/v1/sync"
    path += "?trigger=cli"  # the pass it starts is recorded as started from the CLI
    answer = ask(args, path, method="POST")
    names = [answer["source"]] if "source" in answer else answer.get("triggered", [])
    print(f"sync requested: {', '.join(names) or 'no sources'}")
    return 0


def run_status(args: argparse.Namespace) -> int:
    sources = ask(args, "/api/v1/sources")["sources"]
    resources = ask(args, "/api/v1/resources")["resources"]
    code = EXIT_HEALTHY if healthy(sources, resources) else EXIT_NOT_READY
    if args.format == "json":
        print(json.dumps({"sources": sources, "resources": resources}, indent=2))
        return code
    rows = [
        [
            s["name"],
            _ready(s["conditions"]),
            (s["revision"] or "-")[:12],
            s["lastSyncAt"] or "-",
            _message(s["conditions"]),
        ]
        for s in sources
    ]
    print(output.table(rows, header=["SOURCE", "READY", "REVISION", "LAST SYNC", "MESSAGE"]))
    print()
    rows = [[s["name"], *(_setting(s["settings"][k]) for k in _SETTINGS)] for s in sources]
    print(output.table(rows, header=["SOURCE", "INTERVAL", "AUDIT INTERVAL", "SELF-HEAL"]))
    print()
    rows = [
        [
            r["key"],
            _ready(r["conditions"]),
            (r["lastAppliedRevision"] or "-")[:12],
            _message(r["conditions"]),
        ]
        for r in resources
    ]
    print(output.table(rows, header=["RESOURCE", "READY", "APPLIED", "MESSAGE"]))
    return code


EXIT_HEALTHY = 0
EXIT_NOT_READY = 1
_SETTINGS = ("interval", "auditInterval", "selfHeal")


def healthy(sources: list[dict[str, Any]], resources: list[dict[str, Any]]) -> bool:
    """Every source Ready or suspended, and every resource Ready."""
    return all(s["suspended"] or _ready(s["conditions"]) == "True" for s in sources) and all(
        _ready(r["conditions"]) == "True" for r in resources
    )


def _setting(setting: dict[str, Any]) -> str:
    value = setting["value"]
    shown = str(value).lower() if isinstance(value, bool) else str(value)
    return f"{shown} ({setting['origin']})"


def _ready(conditions: list[dict[str, Any]]) -> str:
    return next((c["status"] for c in conditions if c["type"] == "Ready"), "Unknown")


def _message(conditions: list[dict[str, Any]]) -> str:
    return next((c["message"] for c in conditions if c["type"] == "Ready"), "")
