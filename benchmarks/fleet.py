"""A fleet of N File resources in a real git repository, and a controller driving passes over it.

Shared by `reconcile.py`, `growth.py` and `push_latency.py`: one File resource per file
under `resources/`, one policy bound to every File, the target files already on disk as
Git says (so the first pass has nothing to apply), and helpers to time a pass in wall and
CPU seconds.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from reconciler.clock import SystemClock
from reconciler.events import Bus
from reconciler.policy.pool import EvaluationPool
from reconciler.providers.base import FileSettings, ProviderSettings
from reconciler.providers.registry import Registry
from reconciler.reconcile.controller import Controller
from reconciler.reconcile.results import PassResult
from reconciler.reconcile.revisions import Loaded, SourceLoader
from reconciler.reconcile.settings import ReconcileSettings
from reconciler.source.settings import SourceSettings
from reconciler.store.sqlite import SqliteStore

POLICY = """\
package files.mode
import rego.v1

deny contains msg if {
    input.resource.spec.mode == "0777"
    msg := sprintf("%s: mode 0777 is not allowed", [input.resource.metadata.name])
}
"""
BINDING = """\
apiVersion: reconciler.dev/v1
kind: PolicyBinding
metadata: {name: no-world-writable}
spec: {policy: files.mode, scope: {kinds: [File]}}
"""
SETTINGS = "apiVersion: reconciler.dev/v1\nkind: Settings\nmetadata: {name: bench}\n"


def resource_path(i: int) -> str:
    return f"resources/f{i:05d}.yaml"


def target(out: Path, i: int) -> Path:
    """The file resource `i` manages."""
    return out / f"d{i // 100:03d}" / f"f{i:05d}"


def content(i: int, version: int) -> str:
    return f"v{version} of {i}\n"


def resource_yaml(i: int, out: Path, version: int = 1) -> str:
    return (
        "apiVersion: reconciler.dev/v1\nkind: File\n"
        f"metadata: {{name: f{i:05d}, labels: {{team: t{i % 20}}}}}\n"
        f'spec: {{path: {target(out, i)}, content: "v{version} of {i}\\n", mode: "0644"}}\n'
    )


def git(repo: Path, *args: str) -> None:
    ident = ["-c", "user.name=b", "-c", "user.email=b@b"]
    subprocess.run(["git", "-C", str(repo), *ident, *args], check=True, capture_output=True)


def make_repository(root: Path, count: int) -> tuple[Path, Path]:
    """The repository (committed on `main`) and the folder its File resources write into."""
    repo, out = root / "repo", root / "out"
    for folder in (repo / "policies", repo / "resources", out):
        folder.mkdir(parents=True)
    (repo / "reconciler.yaml").write_text(SETTINGS)
    (repo / "policies" / "mode.rego").write_text(POLICY)
    (repo / "policies" / "bindings.yaml").write_text(BINDING)
    for i in range(count):
        (repo / resource_path(i)).write_text(resource_yaml(i, out))
        path = target(out, i)
        path.parent.mkdir(exist_ok=True)
        path.write_text(content(i, 1))
        path.chmod(0o644)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "first")
    return repo, out


def write_changes(
    repo: Path, out: Path, *, indices: Iterable[int], version: int
) -> dict[Path, str]:
    """Rewrite resources `indices` at `version` (not committed); the files they must produce."""
    expected = {}
    for i in indices:
        (repo / resource_path(i)).write_text(resource_yaml(i, out, version))
        expected[target(out, i)] = content(i, version)
    return expected


def spread(count: int, changed: int, *, offset: int = 0) -> list[int]:
    """`changed` resource indices spread evenly over `count`."""
    step = max(1, count // changed)
    return sorted({(n * step + offset) % count for n in range(changed)})


class Clocked(float):
    """Wall seconds, carrying the process CPU seconds (all threads) of the same span."""

    cpu: float = 0.0

    def __str__(self) -> str:
        return f"{self * 1000:.0f} ms (cpu {self.cpu * 1000:.0f} ms)"


def timed(action: Callable[[], Any]) -> tuple[Clocked, Any]:
    start, cpu = time.perf_counter(), time.process_time()
    value = action()
    took = Clocked(time.perf_counter() - start)
    took.cpu = time.process_time() - cpu
    return took, value


def start(
    repo: Path,
    store: SqliteStore,
    pool: ThreadPoolExecutor,
    evaluations: EvaluationPool | None = None,
) -> tuple[SourceLoader, Controller]:
    loader = SourceLoader(SourceSettings(path=repo))
    controller = Controller(
        name="bench",
        loader=loader,
        registry=Registry.load(ProviderSettings(file=FileSettings(roots=(repo.parent.resolve(),)))),
        store=store,
        bus=Bus(),
        clock=SystemClock(),
        settings=ReconcileSettings(),
        pool=pool,
        evaluations=evaluations,
    )
    return loader, controller


def sync(loader: SourceLoader, controller: Controller, trigger: str) -> PassResult:
    got = loader.refresh(fetch=False)
    assert isinstance(got, Loaded), got
    result = controller.reconcile(got, trigger=trigger)
    assert result.error is None, result.error
    return result
