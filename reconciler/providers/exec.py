"""The `exec` provider: ExecResources are managed by an external program speaking JSON.

The program named by `spec.provider` (relative to the repository, or absolute) is run once
per action — a relative one from the revision being served, as the daemon materialised it
(`source.programs`, `serve_programs`), never from a working tree — as an argv without a
shell, in its own process group. It reads one request on stdin, `{"action": "observe" |
"apply" | "delete", "resource": {apiVersion, kind, metadata, spec}}`, and prints one JSON
object on stdout: `{"observed": {...} | null}` for observe, `{"observed": {...}}` or
`{"ok": true}` for apply, `{"ok": true}` for delete, and `{"error": "..."}` for any
failure. On timeout the whole process group is killed. The protocol is documented for
program authors in docs/providers.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from reconciler.children import NO_LEDGER, ChildLedger
from reconciler.providers import base, validation
from reconciler.specs import kinds, types
from reconciler.specs.snapshot import Document

NAME = "exec"


class ExecProvider:
    """Resources behind an external program (see the module docstring for the protocol)."""

    name = NAME
    capabilities = base.Capabilities()

    def __init__(self, settings: base.ProviderSettings) -> None:
        self._settings = settings
        self._programs: Path | None = None
        self._children: ChildLedger = NO_LEDGER
        self._source = ""

    def watch_children(self, ledger: ChildLedger, *, source: str) -> None:
        """Enter each program's process group in `ledger` while it runs, as work for
        `object:<source>/<key>` (the daemon's ledger is the store)."""
        self._children, self._source = ledger, source

    def serve_programs(self, root: Path | None) -> None:
        """Run relative programs from `root`: the served revision's programs (the daemon
        calls this before each pass on the source's worker); None: `repository_dir`."""
        self._programs = root

    def observe(self, resource: Document) -> dict[str, Any] | None:
        reply = self._call(resource, action="observe")
        observed = reply.get("observed", False)
        if observed is None or isinstance(observed, dict):
            return observed
        raise self._error(resource, 'observe replied without "observed": {...} or null')

    def normalise(self, resource_body: dict[str, Any], observed: dict[str, Any]) -> dict[str, Any]:
        desired: dict[str, Any] = dict(resource_body.get("spec") or {})
        desired["desired"] = base.project(desired.get("desired", {}), observed)
        return base.with_spec(resource_body, desired)

    def apply(self, resource: Document) -> dict[str, Any]:
        reply = self._call(resource, action="apply")
        observed = reply.get("observed")
        if isinstance(observed, dict):
            return observed
        if reply.get("ok") is not True:
            raise self._error(resource, 'apply replied without "observed": {...} or "ok": true')
        after = self.observe(resource)
        if after is None:
            raise self._error(resource, "apply replied ok, but observe then found nothing")
        return after

    def delete(self, resource: Document) -> None:
        if self._call(resource, action="delete").get("ok") is not True:
            raise self._error(resource, 'delete replied without "ok": true')

    def _call(self, resource: Document, *, action: str) -> dict[str, Any]:
        spec = validation.parse_spec(kinds.ExecResourceSpec, provider=NAME, resource=resource)
        argv = self._argv(resource, spec)
        timeout = self._timeout(spec)
        request = {"action": action, "resource": _envelope(resource.body)}
        try:
            code, out, err = self._run(
                argv,
                request=request,
                timeout=timeout,
                owner=f"object:{self._source}/{resource.key}",
            )
        except subprocess.TimeoutExpired:
            detail = f"{spec.provider} timed out after {timeout:g}s during {action}"
            raise base.ProviderTimeout(
                provider=NAME, key=resource.key, detail=f"{detail}; its process group was killed"
            ) from None
        return self._reply(resource, spec=spec, action=action, code=code, out=out, err=err)

    def _run(
        self, argv: list[str], *, request: dict[str, Any], timeout: float, owner: str
    ) -> tuple[int, bytes, bytes]:
        with subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self._programs or self._settings.repository_dir,
            start_new_session=True,  # its own process group, so a timeout kills it all
        ) as process:
            try:
                self._children.started(process.pid, owner)
                out, err = process.communicate(json.dumps(request).encode(), timeout=timeout)
            except BaseException:
                _kill_group(process)
                raise
            finally:
                self._children.ended(process.pid)
        return process.returncode, out, err

    def _reply(
        self,
        resource: Document,
        *,
        spec: kinds.ExecResourceSpec,
        action: str,
        code: int,
        out: bytes,
        err: bytes,
    ) -> dict[str, Any]:
        program, last = spec.provider, _last_line(err)
        if code != 0:
            raise self._error(resource, f"{program} {_exit(code)} during {action}: {last}")
        try:
            reply = json.loads(out)
        except ValueError as error:
            raise self._error(
                resource, f"{program} printed invalid JSON during {action} ({error}): {last}"
            ) from None
        if not isinstance(reply, dict):
            raise self._error(resource, f"{program} printed no JSON object during {action}: {last}")
        if "error" in reply:
            raise self._error(resource, f"{program} failed during {action}: {reply['error']}")
        return reply

    def _argv(self, resource: Document, spec: kinds.ExecResourceSpec) -> list[str]:
        program = Path(spec.provider)
        if not program.is_absolute():
            program = self._in_repository(resource, spec)
        if not program.is_file():
            raise self._spec_error(resource, f"{spec.provider}: no such program")
        if os.access(program, os.X_OK):
            return [str(program)]
        if program.suffix == ".py":
            return [sys.executable, str(program)]
        raise self._spec_error(resource, f"{spec.provider} is not executable (chmod +x it)")

    def _in_repository(self, resource: Document, spec: kinds.ExecResourceSpec) -> Path:
        root = self._programs or self._settings.repository_dir
        if root is None:
            raise self._spec_error(
                resource, f"{spec.provider} is relative but no repository directory is configured"
            )
        program = Path(os.path.realpath(root / spec.provider))
        if Path(os.path.realpath(root)) not in program.parents:
            raise self._spec_error(resource, f"{spec.provider} is outside the repository")
        return program

    def _timeout(self, spec: kinds.ExecResourceSpec) -> float:
        if spec.timeout is None:
            return self._settings.exec.timeout
        return types.seconds(spec.timeout)

    def _error(self, resource: Document, detail: str) -> base.ProviderError:
        return base.ProviderError(provider=NAME, key=resource.key, detail=detail)

    def _spec_error(self, resource: Document, message: str) -> base.ProviderSpecError:
        return validation.spec_error(
            provider=NAME, resource=resource, key="spec.provider", message=message
        )


def _envelope(body: dict[str, Any]) -> dict[str, Any]:
    return {k: body.get(k) for k in ("apiVersion", "kind", "metadata", "spec")}


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group already exited
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _exit(code: int) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with status {code}"


def _last_line(err: bytes) -> str:
    lines = err.decode("utf-8", errors="replace").strip().splitlines()
    return lines[-1].strip() if lines else "(nothing on stderr)"
