"""Workflows, runs and approvals over HTTP: listing the workflows Git defines with their
next and last runs, starting one (`POST /api/v1/workflows/{name}/run`), reading a run with
its steps, cancelling, pausing and resuming it, listing the steps waiting for a human
(`GET /api/v1/approvals`) and answering them (`POST /api/v1/approvals/{run_id}/{step}`).
Every POST needs the operator role (the gate of `api.auth` checks it); the approver is the
caller's token name when tokens are configured. The waiting steps (the list, and a run's
`waiting`) are read from the store (`run.asks`), so every replica sharing it shows those
of every replica's runs; an answer, cancel, pause or resume of a run another replica
runs is forwarded to it (`runclaims.forward`, `runclaims.steer`: 202 with `forwardedTo`).
`api.app` mounts `routes(deps)` and adds `openapi_paths()` to the API description; the
dashboard lists approvals with `pending`.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from reconciler.api import openapi, views
from reconciler.api.auth import Principal
from reconciler.api.deps import Deps
from reconciler.errors import UsageError
from reconciler.reconcile import runactions, runclaims
from reconciler.run import asks, plans, recovery, workflow
from reconciler.run.engine import Engine
from reconciler.runstate import RunKind, RunRecord, StepRecord
from reconciler.store.interfaces import RunNotFound, Runs, Store

Handler = Callable[[Request], Awaitable[Response]]
ACTIONS = runactions.STEERING
ANSWER = runactions.ANSWER
MANUAL_TRIGGERS = ("api", "cli")  # what a hand-started run is recorded as coming from


def _principal(request: Request) -> Principal | None:
    found = getattr(request.state, "principal", None)
    return found if isinstance(found, Principal) else None


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise UsageError(f"body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise UsageError("body must be a JSON object")
    return body


def routes(deps: Deps) -> list[BaseRoute]:
    """The Starlette routes of the workflow, run and approval endpoints."""
    automation, store = deps.workflows, deps.store

    def engine() -> Engine:
        if automation.engine is None:
            raise UsageError("the workflow engine is not running yet")
        return automation.engine

    async def list_workflows(request: Request) -> Response:
        last = await asyncio.to_thread(_last_runs, store)
        items = []
        for name, entry in automation.catalog.workflows().items():
            spec = entry.workflow.spec
            items.append(
                {
                    "name": name,
                    "source": entry.source,
                    "revision": entry.revision,
                    "path": entry.path,
                    "description": spec.description,
                    "triggers": [
                        t.model_dump(mode="json", by_alias=True, exclude_unset=True)
                        for t in spec.triggers
                    ],
                    "nextRuns": [at.isoformat() for at in automation.schedule.next_runs(name)],
                    "lastRun": last.get(name),
                }
            )
        return JSONResponse({"workflows": items})

    async def run_workflow(request: Request) -> Response:
        name = request.path_params["name"]
        body = await _json(request)
        variables = body.get("variables") or {}
        if not isinstance(variables, dict):
            raise UsageError("variables must be a JSON object")
        trigger = body.get("trigger") or "api"
        if trigger not in MANUAL_TRIGGERS:
            raise UsageError(f"trigger must be one of {', '.join(MANUAL_TRIGGERS)}")
        engine()
        run_id = await automation.run_workflow(
            name, trigger=trigger, variables=variables, needs="manual"
        )
        return JSONResponse({"run": run_id, "workflow": name}, status_code=202)

    async def one_run(request: Request) -> Response:
        run = await asyncio.to_thread(store.get_run, request.path_params["run_id"])
        if run is None:
            raise RunNotFound(request.path_params["run_id"])
        body = views.run(run)
        meta = next((s for s in body["steps"] if s["name"] == plans.META), None)
        body["variables"] = meta["output"].get("variables", {}) if meta else {}
        body["steps"] = [s for s in body["steps"] if not s["name"].startswith("#")]
        body["waiting"] = sorted(r.name for r in asks.waiting(run))
        return JSONResponse(body)

    def act(action: str) -> Handler:
        async def handle(request: Request) -> Response:
            run_id = request.path_params["run_id"]
            reply = {"run": run_id, "action": action}
            if run_id not in engine().live():  # maybe another replica's: forwarded there
                steer = functools.partial(
                    runclaims.steer, store, automation.claims, run_id=run_id, action=action
                )
                steered = await asyncio.to_thread(steer)
                if steered is not None:
                    if steered.cancelled is not None:  # closed in the store: never ran
                        await automation.ended(steered.cancelled)
                    if steered.forwarded_to is not None:
                        reply["forwardedTo"] = steered.forwarded_to
                    return JSONResponse(reply, status_code=202)
            await getattr(engine(), action)(run_id)
            return JSONResponse(reply, status_code=202)

        return handle

    async def approvals(request: Request) -> Response:
        return JSONResponse({"approvals": await pending(store)})

    async def answer(request: Request) -> Response:
        run_id, step = request.path_params["run_id"], request.path_params["step"]
        body = await _json(request)
        approved = body.get("approved")
        if not isinstance(approved, bool):
            raise UsageError("approved must be true or false")
        approver = _approver(request, body)
        comment = str(body.get("comment") or "")
        role = principal.role.value if (principal := _principal(request)) else None
        given = {"approver": approver, "approved": approved, "comment": comment, "role": role}
        reply = {"run": run_id, "step": step, "approved": approved, "approver": approver}
        if run_id not in engine().live():  # another replica may run it: forward the answer
            forward = functools.partial(
                runclaims.forward, store, automation.claims, run_id=run_id, action=ANSWER
            )
            replica = await asyncio.to_thread(forward, given={"step": step, **given})
            if replica is not None:
                return JSONResponse({**reply, "forwardedTo": replica}, status_code=202)
        await engine().approve(
            run_id, step, approver=approver, approved=approved, comment=comment, role=role
        )
        return JSONResponse(reply, status_code=202)

    return [
        Route("/api/v1/workflows", list_workflows),
        Route("/api/v1/workflows/{name}/run", run_workflow, methods=["POST"]),
        *(Route(f"/api/v1/runs/{{run_id:path}}/{a}", act(a), methods=["POST"]) for a in ACTIONS),
        Route("/api/v1/runs/{run_id:path}", one_run),
        Route("/api/v1/approvals", approvals),
        Route("/api/v1/approvals/{run_id:path}/{step}", answer, methods=["POST"]),
    ]


def _approver(request: Request, body: dict[str, Any]) -> str:
    """The token's name when tokens are configured, else whom the body names."""
    principal = _principal(request)
    if principal is not None and principal.name != "anonymous":
        return principal.name
    given = body.get("approver")
    return str(given) if isinstance(given, str) and given.strip() else "anonymous"


def _last_runs(store: Store) -> dict[str, dict[str, Any]]:
    """The newest stored run of each workflow (blocking: call on a thread)."""
    found: dict[str, dict[str, Any]] = {}
    for run in store.list_runs(kind=RunKind.WORKFLOW, limit=1000):
        if run.name not in found and "/" not in run.id:
            found[run.name] = {
                "id": run.id,
                "status": run.status.value,
                "trigger": run.trigger,
                "startedAt": views.when(run.started_at),
                "finishedAt": views.when(run.finished_at),
            }
    return found


async def pending(store: Runs) -> list[dict[str, Any]]:
    """Every step waiting for a human's answer, oldest first: read from the store, so
    each replica sharing it lists the steps of the runs every replica runs (`run.asks`)."""
    found = await asyncio.to_thread(store.waiting_runs)
    items = [_approval(run, record) for run in found for record in asks.waiting(run)]
    return sorted(items, key=lambda i: (i["since"] or "", i["runId"], i["step"]))


def _approval(run: RunRecord, record: StepRecord) -> dict[str, Any]:
    """One waiting step as the API lists it; `record` is its newest attempt, waiting."""
    step = record.name
    meta = next((s for s in run.steps if s.name == plans.META), None)
    plan = plans.from_meta(meta)[0] if meta else None
    spec = (
        next((s for s in [*plan.steps, *plan.on_failure] if s.name == step), None) if plan else None
    )
    gated = bool(record.output.get(recovery.GATE))
    ask = spec.approval if spec is not None else None
    asked = None if gated else asks.asked(record)
    if asked is None and not gated and plan is not None:  # a record without its question
        asked = asks.of_spec(plan, step)
    return {
        "runId": run.id,
        "kind": run.kind.value,
        "workflow": run.name,
        "step": step,
        "prompt": workflow.GATE_MESSAGE if gated else asked.prompt if asked else "",
        "approvers": list(asked.approvers) if asked else [],
        "since": views.when(record.started_at if gated else _first_start(run, step)),
        "timeout": ask.timeout if ask and not gated else None,
        "resume": gated,
    }


def _first_start(run: RunRecord, step: str) -> Any:
    """When the step was first asked: an approval's timeout counts from there."""
    starts = [s.started_at for s in run.steps if s.name == step and s.started_at is not None]
    return min(starts, default=None)


def openapi_paths() -> dict[str, Any]:
    """OpenAPI path items of the endpoints `routes` returns (see `api.openapi`)."""
    o = openapi
    run_id, step = o.path_param("run_id", "run id"), o.path_param("step", "step name")
    workflow_item = o.obj(
        {
            "name": o.STRING,
            "source": o.STRING,
            "revision": o.STRING,
            "path": o.STRING,
            "description": o.STRING,
            "triggers": {"type": "array", "items": {"type": "object"}},
            "nextRuns": {"type": "array", "items": o.TIME},
            "lastRun": o.nullable({"type": "object"}),
        }
    )
    approval = o.obj(
        {
            "runId": o.STRING,
            "kind": o.enum(RunKind),
            "workflow": o.STRING,
            "step": o.STRING,
            "prompt": o.STRING,
            "approvers": {"type": "array", "items": o.STRING},
            "since": o.nullable(o.TIME),
            "timeout": o.nullable(o.STRING),
            "resume": o.BOOLEAN,
        }
    )
    refused = {
        "404": o.error("no such workflow or run"),
        "409": o.error("refused"),
        "400": o.error("a bad body"),
    }
    started = o.obj({"run": o.STRING, "workflow": o.STRING})
    acted = o.obj(
        {"run": o.STRING, "action": o.enum(ACTIONS), "forwardedTo": o.STRING},
        required=["run", "action"],
    )
    answered = o.obj(
        {
            "run": o.STRING,
            "step": o.STRING,
            "approved": o.BOOLEAN,
            "approver": o.STRING,
            "forwardedTo": o.STRING,
        },
        required=["run", "step", "approved", "approver"],
    )
    paths = {
        "/api/v1/workflows": o.get(
            "the workflows Git defines",
            o.obj({"workflows": {"type": "array", "items": workflow_item}}),
        ),
        "/api/v1/workflows/{name}/run": o.post(
            "start a run of a workflow",
            started,
            errors=refused,
            parameters=[o.path_param("name", "workflow name")],
        ),
        "/api/v1/runs/{run_id}": o.get(
            "a run with its steps", o.ref("Run"), parameters=[run_id], errors=refused
        ),
        "/api/v1/approvals": o.get(
            "steps waiting for an answer",
            o.obj({"approvals": {"type": "array", "items": approval}}),
        ),
        "/api/v1/approvals/{run_id}/{step}": o.post(
            "answer an approval", answered, parameters=[run_id, step], errors=refused
        ),
    }
    for action in ACTIONS:
        paths[f"/api/v1/runs/{{run_id}}/{action}"] = o.post(
            f"{action} a run", acted, parameters=[run_id], errors=refused
        )
    return paths
