"""The record of one runbook run: `report.json` for machines, `report.md` for people, and a
`RunRecord` for the store.

Outputs are truncated (head and tail kept) so a chatty command cannot make a report huge.
Who ran it, when, with which variables, and any override of the safety pack (with its
reason and findings) are part of every report.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from reconciler.run import runbook_vars
from reconciler.run.runbook_exec import RunResult, StepResult
from reconciler.run.runbook_safety import Danger
from reconciler.store.base import RunKind, RunRecord, StepRecord, StepStatus

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


def as_json(result: RunResult, *, context: Context) -> dict[str, Any]:
    plan = result.plan
    return {
        "runId": context.run_id,
        "runbook": plan.name,
        "path": plan.path,
        "type": plan.type.value,
        "revision": context.revision,
        "result": result.status.value,
        "error": result.error,
        "who": context.who,
        "startedAt": result.started_at.isoformat(),
        "finishedAt": result.finished_at.isoformat(),
        "durationSeconds": round(result.duration, 3),
        "variables": {k: runbook_vars.display(v) for k, v in plan.variables.items()},
        "overrides": _overrides(context),
        "steps": [_step_json(s) for s in result.steps],
        "rollback": [_step_json(s) for s in result.rollbacks],
    }


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


def _step_json(step: StepResult) -> dict[str, Any]:
    last = step.attempts[-1] if step.attempts else None
    result = last.result if last else None
    return {
        "name": step.name,
        "status": step.status.value,
        "argv": list(step.command.argv) if step.command else None,
        "shell": step.command.shell if step.command else False,
        "attempts": len(step.attempts),
        "durationSeconds": round(step.duration, 3),
        "exitCode": result.exit_code if result else None,
        "timedOut": result.timed_out if result else False,
        "stdout": truncate(result.stdout) if result else "",
        "stderr": truncate(result.stderr) if result else "",
        "error": step.error,
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


def run_record(result: RunResult, *, context: Context, trigger: str = "cli") -> RunRecord:
    """The run as the store keeps it: one step record per attempt."""
    steps: list[StepRecord] = []
    for step in [*result.steps, *(_renamed(s) for s in result.rollbacks)]:
        steps += _step_records(step)
    return RunRecord(
        id=context.run_id,
        kind=RunKind.RUNBOOK,
        name=result.plan.name,
        trigger=trigger,
        revision=context.revision,
        status=result.status,
        steps=tuple(steps),
        started_at=result.started_at,
        finished_at=result.finished_at,
        error=result.error,
    )


def _renamed(step: StepResult) -> StepResult:
    return StepResult(
        name=f"rollback:{step.name}",
        status=step.status,
        command=step.command,
        attempts=step.attempts,
        duration=step.duration,
    )


def _step_records(step: StepResult) -> list[StepRecord]:
    if not step.attempts:
        return [StepRecord(name=step.name, status=step.status)]
    records = []
    for attempt in step.attempts:
        result = attempt.result
        output: dict[str, Any] = {}
        if result is not None:
            output = {"exitCode": result.exit_code, "stdout": truncate(result.stdout, 1000)}
        status = step.status if attempt is step.attempts[-1] else StepStatus.FAILED
        records.append(
            StepRecord(
                name=step.name,
                status=status,
                attempt=attempt.number,
                started_at=attempt.started_at,
                finished_at=attempt.started_at + timedelta(seconds=attempt.duration),
                output=output,
                error="; ".join(attempt.failures) or None,
            )
        )
    return records
