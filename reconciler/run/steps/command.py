"""The `command` step: a program run as an argv, in its own process group.

The argv is rendered element by element (`run.templating`), so a variable's value is one
argument whatever it holds. A template where an interpreter would parse it as code — the
command line of `shell: true`, the script of `sh -c`, `python -c`, ... (`specs.shellcode`)
— is refused here as it is by validation: values reach such code only as arguments after
the script or in `env`, whose values are rendered and passed as the environment. The
process leads a new session (`start_new_session=True`), so a timeout or cancel kills the
whole group with `os.killpg`, grandchildren included: SIGTERM, then SIGKILL after a grace
period. stdout and stderr are read concurrently and kept up to a bound (the rest is
drained and counted). `expect` checks the result (`run.expect`): exit code (0 unless
said otherwise), substrings and a regular expression of the output, JSON paths of stdout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import signal
from typing import Any

from reconciler.children import NO_LEDGER, ChildLedger
from reconciler.run import expect, templating
from reconciler.run.steps import base
from reconciler.specs import flows, shellcode


class CommandKind:
    async def run(self, step: flows.Step, ctx: base.StepContext) -> base.StepResult:
        assert step.command is not None
        for index, why in shellcode.splices(step.command, shell=step.shell):
            raise templating.TemplateError(
                f"command[{index}]: a template in {why} would run as code; refused"
            )
        env = {name: templating.render(value, ctx.scope) for name, value in step.env.items()}
        if step.shell:
            line = " ".join(step.command)  # holds no template: refused above
            argv = ["/bin/sh", "-c", line]
        else:
            argv = templating.render_argv(step.command, ctx.scope)
            line = shlex.join(argv)
        ctx.announce(f"running {line}")
        owner = f"run:{ctx.run_id}/{step.name}"
        outputs = await execute(argv, limits=ctx.limits, env=env, ledger=(ctx.children, owner))
        _check(step, outputs)
        return base.StepResult(outputs=outputs)


async def execute(
    argv: list[str],
    *,
    limits: base.Limits,
    env: dict[str, str] | None = None,
    ledger: tuple[ChildLedger, str] = (NO_LEDGER, ""),
) -> dict[str, Any]:
    """Run `argv` to completion with the daemon's environment plus `env`; outputs
    `exitCode`, `stdout`, `stderr` and maybe `json`. The process group is entered in the
    ledger (with its owner) while it runs, so a restarted daemon finds it."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            env={**os.environ, **env} if env else None,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise base.StepFailed(f"cannot run {argv[0]!r}: {exc.strerror}") from None
    children, owner = ledger
    try:
        await asyncio.to_thread(children.started, proc.pid, owner)
        assert proc.stdout is not None and proc.stderr is not None
        out, err = await asyncio.gather(
            _read(proc.stdout, limits.max_output_bytes), _read(proc.stderr, limits.max_output_bytes)
        )
        code = await proc.wait()
    except BaseException:
        await _kill_group(proc, grace=limits.kill_grace)
        raise
    finally:
        # The leader is gone; anything it left in its group would outlive the step.
        _signal_group(proc.pid, signal.SIGKILL)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(asyncio.to_thread(children.ended, proc.pid))
    return _outputs(code, out, err)


def _outputs(code: int, out: tuple[str, bool], err: tuple[str, bool]) -> dict[str, Any]:
    outputs: dict[str, Any] = {"exitCode": code, "stdout": out[0], "stderr": err[0]}
    if out[1] or err[1]:
        outputs["truncated"] = [
            name for name, (_, cut) in (("stdout", out), ("stderr", err)) if cut
        ]
    with contextlib.suppress(ValueError):
        if out[0].strip() and not out[1]:
            outputs["json"] = json.loads(out[0])
    return outputs


async def _read(stream: asyncio.StreamReader, limit: int) -> tuple[str, bool]:
    kept = bytearray()
    truncated = False
    while chunk := await stream.read(65536):
        room = limit - len(kept)
        kept += chunk[:room]
        truncated = truncated or len(chunk) > room
    return kept.decode("utf-8", errors="replace"), truncated


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _kill_group(proc: asyncio.subprocess.Process, *, grace: float) -> None:
    """SIGTERM the process group, SIGKILL it after `grace` seconds, and reap the leader."""
    _signal_group(proc.pid, signal.SIGTERM)
    with contextlib.suppress(TimeoutError, asyncio.CancelledError):
        await asyncio.shield(asyncio.wait_for(proc.wait(), grace))
    _signal_group(proc.pid, signal.SIGKILL)
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.shield(proc.wait())


def _check(step: flows.Step, outputs: dict[str, Any]) -> None:
    code = outputs["exitCode"]
    found = expect.failures(
        step.expect, exit_code=code, stdout=outputs["stdout"], stderr=outputs["stderr"]
    )
    if found:
        raise base.StepFailed("; ".join(found), outputs=outputs, exit_code=code)
