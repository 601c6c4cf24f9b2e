"""Run the sandbox process and collect its sections, within limits, never hanging.

The sandbox is `python -m reconciler.simulate.sandbox` (a fresh interpreter: nothing of
this process' state leaks into it). Its output is read against a wall-clock deadline;
past it the process is killed. A sandbox that dies (CPU limit, stack overflow, memory
cap, output limit) leaves the sections it finished; the stage it was in and the stages
after it become `Issue`s whose message says which limit was hit. Nothing the sandbox writes
is read whole: message lines longer than the output limit stop it, and of its error output
(a file it cannot grow past that limit) only the last 64 KiB are read.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import reconciler
from reconciler.clock import Clock
from reconciler.simulate import sandbox
from reconciler.simulate.records import Issue
from reconciler.simulate.settings import SimulateSettings

_WHAT = {
    "load": "the revisions could not be loaded",
    "decisions": "head policies could not be evaluated",
    "tests": "Rego tests at head could not be run",
    "replay": "the decision log could not be replayed",
}
_MIB = 1024 * 1024
_TAIL = 64 * 1024  # of the error output, read for the last line when the sandbox died
InputsFor = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(kw_only=True)
class Collected:
    sections: dict[str, Any] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    stage: str = "load"  # the stage the sandbox was last known to be in


class TooLong(Exception):
    """A line longer than the output limit: the sandbox is stopped, the line never kept."""


class _Lines:
    """Lines of a pipe, read with a deadline, none longer than `most` bytes."""

    def __init__(self, stream: IO[bytes], *, clock: Clock, deadline: float, most: int) -> None:
        self._fd, self._buffer = stream.fileno(), bytearray()
        self._clock, self._deadline, self._most = clock, deadline, most
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._fd, selectors.EVENT_READ)

    def next(self) -> bytes | None:
        """The next line; None at end of stream. Raises TimeoutError past the deadline."""
        seen = 0  # bytes of the buffer already searched for the end of the line
        while (end := self._buffer.find(b"\n", seen)) < 0:
            if len(self._buffer) > self._most:
                raise TooLong
            seen = len(self._buffer)
            left = self._deadline - self._clock.monotonic()
            if left <= 0 or not self._selector.select(timeout=left):
                raise TimeoutError
            chunk = os.read(self._fd, 1 << 20)
            if not chunk:
                return None
            self._buffer += chunk
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return line


def run(
    request: dict[str, Any], *, settings: SimulateSettings, clock: Clock, inputs_for: InputsFor
) -> Collected:
    """Start the sandbox with `request`, answer its request for inputs, collect sections."""
    return run_program(
        [sys.executable, "-m", sandbox.__name__],
        request=request,
        settings=settings,
        clock=clock,
        inputs_for=inputs_for,
    )


def run_program(
    argv: list[str],
    *,
    request: dict[str, Any],
    settings: SimulateSettings,
    clock: Clock,
    inputs_for: InputsFor,
) -> Collected:
    """`run` with the program `argv` in the sandbox's place (it speaks `wire`)."""
    payload = {
        **request,
        "cpuSeconds": settings.cpu_seconds,
        "memoryMib": settings.memory_mib,
        "outputMib": settings.output_mib,
    }
    most = settings.output_mib * _MIB
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            env=_env(),
        )
        assert proc.stdin is not None and proc.stdout is not None
        collected, failure = Collected(), None
        try:
            _write(proc.stdin, payload)
            deadline = clock.monotonic() + settings.wall_seconds
            lines = _Lines(proc.stdout, clock=clock, deadline=deadline, most=most)
            failure = _converse(proc.stdin, lines, collected, inputs_for)
        except TimeoutError:
            failure = f"exceeded the {settings.wall_seconds:g} s time limit"
            proc.kill()
        except TooLong:
            failure = f"sent a message larger than the {settings.output_mib} MiB output limit"
            proc.kill()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the sandbox died: its exit status says why
        finally:
            code = _reap(proc)
        if "done" not in collected.sections:
            if failure == "memory":
                failure = _memory(settings)
            # replay: the head's policies print with live observed values in reach
            shown = collected.stage != "replay"
            reason = failure or _death(code, _tail(errors, most=most), settings, shown=shown)
            _fail(collected, collected.stage, reason)
    return collected


def _converse(
    stdin: IO[bytes], lines: _Lines, collected: Collected, inputs_for: InputsFor
) -> str | None:
    """Read messages until the end; the failure the sandbox reported, if it did."""
    while (line := lines.next()) is not None:
        message = json.loads(line)
        if "stage" in message:
            collected.stage = message["stage"]
        elif "section" in message:
            collected.sections[message["section"]] = message["value"]
        elif "need" in message:
            _write(stdin, {"inputs": inputs_for(collected.sections.get("facts") or {})})
        elif "failed" in message:
            return str(message["reason"])
        elif message.get("done"):
            collected.sections["done"] = True
    return None


def _tail(errors: IO[bytes], *, most: int) -> str | None:
    """The end of the sandbox's error output; None when it reached the output limit."""
    size = os.fstat(errors.fileno()).st_size
    if size >= most:
        return None
    errors.seek(max(0, size - _TAIL))
    return errors.read().decode(errors="replace")


def _death(code: int, stderr: str | None, settings: SimulateSettings, *, shown: bool) -> str:
    """What killed the sandbox; the last line of its error output only when `shown`."""
    if stderr is None:
        return f"wrote more than the {settings.output_mib} MiB output limit to its error output"
    if code == -signal.SIGXCPU:
        return f"exceeded the {settings.cpu_seconds:g} s CPU limit"
    if code == -signal.SIGSEGV:
        return (
            "the policy engine overflowed its stack (SIGSEGV): a rule or function that "
            "calls itself without end?"
        )
    if "memory allocation" in stderr or "MemoryError" in stderr:
        return _memory(settings)
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    last = (stderr.strip().splitlines() or [""])[-1]
    if not shown or not last:
        return f"the sandbox exited with status {code}"
    return f"the sandbox exited with status {code}: {last}"


def _memory(settings: SimulateSettings) -> str:
    return f"exceeded the {settings.memory_mib} MiB memory limit"


def _reap(proc: subprocess.Popen[bytes]) -> int:
    """Wait for the sandbox to exit (it is ending already); kill it if it does not."""
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            stream.close()
    try:
        return proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def _fail(collected: Collected, stage: str, reason: str) -> None:
    reached = False
    for name in sandbox.STAGES:
        if name == stage:
            reached = True
            collected.issues.append(Issue(section=name, message=f"{_WHAT[name]}: {reason}"))
        elif reached:
            collected.issues.append(
                Issue(section=name, message="not run: an earlier stage failed", blocking=False)
            )


def _write(stream: IO[bytes], message: dict[str, Any]) -> None:
    stream.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
    stream.flush()


def _env() -> dict[str, str]:
    root = str(Path(reconciler.__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        "PYTHONPATH": f"{root}{os.pathsep}{path}" if path else root,
        "RUST_BACKTRACE": "0",
    }
