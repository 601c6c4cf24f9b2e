"""Run the real daemon as a subprocess and talk to it over HTTP, for the end-to-end tests.

`start(...)` launches `python -m reconciler serve ...`, reads the `serving http://...` line
to learn the port and returns a `RunningDaemon`; its stderr (the log) goes to a file the
tests read. `eventually(check)` polls an assertion until it holds or a deadline passes: the
tests never sleep a fixed time and then assert.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0
DEADLINE = 20.0
_SERVING = re.compile(r"^serving (https?://\S+) ")

T = TypeVar("T")


def environment(tmp: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The daemon's environment: nothing it writes lands outside `tmp`."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {
        **os.environ,
        "PYTHONPATH": path,
        "XDG_STATE_HOME": str(tmp / "xdg-state"),
        "XDG_CACHE_HOME": str(tmp / "xdg-cache"),
        "RECONCILER_LOG_DIR": str(tmp / "crash-logs"),
        **(extra or {}),
    }


def cli(tmp: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`reconciler ARGS` run to its end in `tmp` with `environment(tmp)`; output captured."""
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp,
        env=environment(tmp),
        timeout=timeout,
    )


@dataclass
class RunningDaemon:
    process: subprocess.Popen[str]
    url: str
    log_path: Path
    stdout_lines: queue.Queue[str] = field(default_factory=queue.Queue)

    def request(
        self,
        path: str,
        *,
        method: str = "GET",
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        req = urllib.request.Request(
            self.url + path, data=body, method=method, headers=headers or {}
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as response:
                return response.status, _decode(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, _decode(exc.read())

    def get(self, path: str) -> Any:
        status, answer = self.request(path)
        assert status == 200, (path, status, answer)
        return answer

    def post(self, path: str) -> Any:
        status, answer = self.request(path, method="POST", body=b"")
        assert status == 202, (path, status, answer)
        return answer

    def text(self, path: str) -> str:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return str(response.read().decode())

    def source(self, name: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.get(f"/api/v1/sources/{name}")
        return answer

    def resource(self, key: str) -> dict[str, Any] | None:
        status, answer = self.request(f"/api/v1/resources/{key}")
        if status == 404:
            return None
        assert status == 200, (key, status, answer)
        return dict(answer)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def signal(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float = DEADLINE) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        """Make sure the process is gone (test teardown): SIGTERM, then SIGKILL."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=DEADLINE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def start(
    args: Sequence[str], *, tmp: Path, env: dict[str, str] | None = None, name: str = "daemon"
) -> RunningDaemon:
    """Run `reconciler serve ARGS` and wait for its `serving` line."""
    log_path = tmp / f"{name}.log"
    with log_path.open("a", encoding="utf-8") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "serve", *args],
            stdout=subprocess.PIPE,
            stderr=log,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=tmp,
            env=environment(tmp, env),
        )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_pump, args=(process, lines), daemon=True).start()
    try:
        line = lines.get(timeout=START_TIMEOUT)
    except queue.Empty:
        line = ""
    found = _SERVING.match(line)
    if not found:
        process.kill()
        process.wait()
        raise AssertionError(f"no serving line (got {line!r}); log:\n{log_path.read_text()}")
    return RunningDaemon(process=process, url=found.group(1), log_path=log_path, stdout_lines=lines)


def _pump(process: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.put(line)
    lines.put("")  # end of output


def serve_args(repo: Path, *, data_dir: Path, extra: Sequence[str] = ()) -> list[str]:
    """`serve` arguments; File resources may live anywhere in the test's folder."""
    root = str(data_dir.parent.resolve())
    fixed = ["--port", "0", "--data-dir", str(data_dir), "--interval", "1s", "--file-root", root]
    return [str(repo), *fixed, *extra]


def eventually(check: Callable[[], T], *, timeout: float = DEADLINE, what: str = "") -> T:
    """Call `check` until it returns without an AssertionError; its last error on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError as exc:
            if time.monotonic() > deadline:
                raise AssertionError(f"not reached in {timeout:g}s: {what}: {exc}") from None
        time.sleep(0.05)


def holds(check: Callable[[], None], *, for_seconds: float) -> None:
    """Assert `check` keeps passing for a while: the only way to see that nothing happens."""
    deadline = time.monotonic() + for_seconds
    while time.monotonic() < deadline:
        check()
        time.sleep(0.05)
    check()


def condition(item: dict[str, Any], type_: str) -> dict[str, Any] | None:
    return next((c for c in item["conditions"] if c["type"] == type_), None)


def ready(item: dict[str, Any] | None) -> str | None:
    if item is None:
        return None
    found = condition(item, "Ready")
    return found["status"] if found else None


def events(daemon: RunningDaemon, *, type_: str | None = None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = daemon.get("/api/v1/events?limit=1000")["events"]
    return [e for e in found if type_ is None or e["type"] == type_]


def holds_true(holds_now: bool, reason: str) -> None:
    """Assert `holds_now`, failing with `reason` (which says what went wrong)."""
    assert holds_now, reason
