"""The report of one runbook run, rendered from its run record: `report.json` for machines,
`report.md` for people.

The engine records the run (one step record per attempt, rollbacks as `<step>.rollback`);
the report reads that record beside the runbook's plan (for each step's argv as run).

Outputs are truncated (head and tail kept) so a chatty command cannot make a report huge.
Who ran it, when, with which variables, and any override of the safety pack (with its
reason and findings) are part of every report.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from reconciler.run.recovery import ROLLBACK_SUFFIX
from reconciler.runbooks import variables as runbook_vars
from reconciler.runbooks.plan import Command, RunbookPlan
from reconciler.runbooks.safety import Danger
from reconciler.runstate import RunRecord, StepRecord, StepStatus

MAX_OUTPUT = 4000


@dataclass(frozen=True, kw_only=True)
class Context:
    """What the report says beyond the result: who, where from, and overrides."""

    run_id: str
    who: str
    revision: str | None = None
    override_reason: str | None = None  # set when dangerous commands were allowed
    dangers: tuple[Danger, ...] = ()
    confirmed_by: str = ""  # "tty" or "--yes" when a dangerous runbook was confirmed


def new_run_id() -> str:
    return str(uuid.uuid4())


def truncate(text: str, limit: int = MAX_OUTPUT) -> str:
    """`text`, or its head and tail around a note of how much was left out."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n... [{len(text) - 2 * half} characters truncated] ...\n{text[-half:]}"


def as_json(run: RunRecord, *, plan: RunbookPlan, context: Context) -> dict[str, Any]:
    attempts = _attempts(run)
    steps = [_step_json(s.name, s.command, attempts.get(s.name, [])) for s in plan.steps]
    rollbacks = [
        _step_json(name.removesuffix(ROLLBACK_SUFFIX), _rollback_of(plan, name), records)
        for name, records in attempts.items()
        if name.endswith(ROLLBACK_SUFFIX)
    ]
    finished = run.finished_at or run.started_at
    return {
        "runId": run.id,
        "runbook": plan.name,
        "path": plan.path,
        "type": plan.type.value,
        "revision": context.revision,
        "result": run.status.value,
        "error": _error(run, steps),
        "who": context.who,
        "startedAt": run.started_at.isoformat() if run.started_at else None,
        "finishedAt": finished.isoformat() if finished else None,
        "durationSeconds": round(_seconds(run.started_at, finished), 3),
        "variables": {k: runbook_vars.display(v) for k, v in plan.variables.items()},
        "overrides": _overrides(context),
        "steps": steps,
        "rollback": rollbacks,
    }


def _attempts(run: RunRecord) -> dict[str, list[StepRecord]]:
    """Each step's attempt records in attempt order, steps in the order they first ran."""
    found: dict[str, dict[int, StepRecord]] = {}
    for record in run.steps:
        if not record.name.startswith("#"):
            found.setdefault(record.name, {})[record.attempt] = record
    return {name: [byn[n] for n in sorted(byn)] for name, byn in found.items()}


def _rollback_of(plan: RunbookPlan, name: str) -> Command | None:
    undone = name.removesuffix(ROLLBACK_SUFFIX)
    return next((s.rollback for s in plan.steps if s.name == undone), None)


def _error(run: RunRecord, steps: Sequence[dict[str, Any]]) -> str | None:
    failed = next((s for s in steps if s["status"] == StepStatus.FAILED.value), None)
    if failed is not None:
        return f"step {failed['name']}: {failed['error']}"
    return run.error


def _seconds(start: datetime | None, end: datetime | None) -> float:
    return 0.0 if start is None or end is None else (end - start).total_seconds()


def _overrides(context: Context) -> list[dict[str, Any]]:
    if context.override_reason is None:
        return []
    findings = [
        {"step": d.step, "key": d.key, "message": d.message, "policy": d.policy}
        for d in context.dangers
    ]
    return [
        {
            "kind": "dangerousCommands",
            "reason": context.override_reason,
            "confirmedBy": context.confirmed_by,
            "findings": findings,
        }
    ]


def _step_json(name: str, command: Command | None, records: Sequence[StepRecord]) -> dict[str, Any]:
    last = records[-1] if records else None
    output = last.output if last else {}
    error = last.error if last else None
    return {
        "name": name,
        "status": last.status.value if last else StepStatus.SKIPPED.value,
        "argv": list(command.argv) if command else None,
        "shell": command.shell if command else False,
        "attempts": len([r for r in records if r.status is not StepStatus.SKIPPED]),
        "durationSeconds": round(
            _seconds(records[0].started_at, last.finished_at) if last else 0.0, 3
        ),
        "exitCode": output.get("exitCode"),
        "timedOut": (error or "").startswith("timed out"),
        "stdout": truncate(output.get("stdout", "")),
        "stderr": truncate(output.get("stderr", "")),
        "error": error,
    }


def markdown(report: dict[str, Any]) -> str:
    """`report.md` from the JSON report, so both always say the same."""
    lines = [
        f"# Runbook {report['runbook']}: {report['result']}",
        "",
        f"- run: `{report['runId']}`",
        f"- who: {report['who']}",
        f"- started: {report['startedAt']}, finished: {report['finishedAt']}"
        f" ({report['durationSeconds']}s)",
        f"- file: `{report['path']}`"
        + (f" at `{report['revision']}`" if report["revision"] else ""),
    ]
    if report["variables"]:
        shown = ", ".join(f"`{k}={v}`" for k, v in report["variables"].items())
        lines.append(f"- variables: {shown}")
    if report["error"]:
        lines.append(f"- error: {report['error']}")
    for override in report["overrides"]:
        lines += _override_lines(override)
    lines += ["", "## Steps", "", *_table(report["steps"])]
    if report["rollback"]:
        lines += ["", "## Rollback", "", *_table(report["rollback"])]
    lines += _outputs([*report["steps"], *report["rollback"]])
    return "\n".join(lines) + "\n"


def _override_lines(override: dict[str, Any]) -> list[str]:
    lines = [
        f"- override: dangerous commands allowed ({override['reason']}),"
        f" confirmed by {override['confirmedBy']}"
    ]
    lines += [
        f"  - step `{f['step']}`: `{f['message']}` ({f['policy']})" for f in override["findings"]
    ]
    return lines


def _table(steps: Sequence[dict[str, Any]]) -> list[str]:
    rows = [
        "| step | status | attempts | exit code | duration | error |",
        "|---|---|---|---|---|---|",
    ]
    for s in steps:
        error = (s["error"] or "").replace("|", "\\|")
        code = "" if s["exitCode"] is None else s["exitCode"]
        rows.append(
            f"| {s['name']} | {s['status']} | {s['attempts']} | {code}"
            f" | {s['durationSeconds']}s | {error} |"
        )
    return rows


def _outputs(steps: Sequence[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for s in steps:
        for stream in ("stdout", "stderr"):
            if s[stream]:
                lines += ["", f"### {s['name']} {stream}", "", "```text", s[stream].rstrip(), "```"]
    return lines


def write(report: dict[str, Any], *, directory: Path) -> tuple[Path, Path]:
    """Write `report.json` and `report.md` into `directory` (made if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path, md_path = directory / "report.json", directory / "report.md"
    json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(markdown(report), encoding="utf-8")
    return json_path, md_path
