"""Cost of reconcile passes over N (default 10 000) File resources, against what must be paid.

Builds a git repository of N File resources (one file each, under a temporary folder) with
one policy bound to every File, writes the files to disk as Git says, then measures:
(a) cold start: first load + compile + observe + plan of a new controller, nothing to apply
    (with an empty store, then again as a restart over the statuses it wrote);
(b) a steady-state pass (same revision, nothing changed), beside the floor measured in the
    same run: evaluating the same bindings over the same N documents plus `diffs.diff` of
    each (normalised observed, desired) pair;
(c) the pass after a commit changing 10 files, as a fraction of (b);
(d) peak RSS.
Run: `python benchmarks/reconcile.py [N]`.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from reconciler.clock import SystemClock
from reconciler.events import Bus
from reconciler.plan import diffs
from reconciler.policy.evaluate import Evaluator
from reconciler.providers.base import ProviderSettings
from reconciler.providers.registry import Registry
from reconciler.reconcile.controller import Controller, PassResult
from reconciler.reconcile.resources import Result
from reconciler.reconcile.revisions import Loaded, SourceLoader
from reconciler.reconcile.settings import ReconcileSettings
from reconciler.source.settings import SourceSettings
from reconciler.store.retention import RetentionSettings
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


def resource_yaml(i: int, out: Path, version: int = 1) -> str:
    return (
        "apiVersion: reconciler.dev/v1\nkind: File\n"
        f"metadata: {{name: f{i:05d}, labels: {{team: t{i % 20}}}}}\n"
        f'spec: {{path: {out}/d{i // 100:03d}/f{i:05d}, content: "v{version} of {i}\\n", '
        'mode: "0644"}\n'
    )


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def make_repository(root: Path, count: int) -> tuple[Path, Path]:
    repo, out = root / "repo", root / "out"
    for folder in (repo / "policies", repo / "resources", out):
        folder.mkdir(parents=True)
    (repo / "reconciler.yaml").write_text(SETTINGS)
    (repo / "policies" / "mode.rego").write_text(POLICY)
    (repo / "policies" / "bindings.yaml").write_text(BINDING)
    for i in range(count):
        (repo / "resources" / f"f{i:05d}.yaml").write_text(resource_yaml(i, out))
        target = out / f"d{i // 100:03d}" / f"f{i:05d}"
        target.parent.mkdir(exist_ok=True)
        target.write_text(f"v1 of {i}\n")
        target.chmod(0o644)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "first")
    return repo, out


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
    repo: Path, store: SqliteStore, pool: ThreadPoolExecutor
) -> tuple[SourceLoader, Controller]:
    loader = SourceLoader(SourceSettings(path=repo))
    controller = Controller(
        name="bench",
        loader=loader,
        registry=Registry.load(ProviderSettings()),
        store=store,
        bus=Bus(),
        clock=SystemClock(),
        settings=ReconcileSettings(),
        pool=pool,
    )
    return loader, controller


def sync(loader: SourceLoader, controller: Controller, trigger: str) -> PassResult:
    got = loader.refresh(fetch=False)
    assert isinstance(got, Loaded), got
    result = controller.reconcile(got, trigger=trigger)
    assert result.error is None, result.error
    return result


def floor(loaded: Loaded, controller: Controller) -> Clocked:
    """Evaluate every binding over every document, and diff each desired/observed pair."""
    docs = loaded.snapshot.resources
    provider = controller.registry.find(docs[0], mapping={})
    assert provider is not None
    pairs = []
    for doc in docs:
        observed = provider.observe(doc)
        assert observed is not None
        pairs.append((provider.normalise(doc.body, observed), doc.body))
    evaluator = Evaluator(loaded.bundle, clock=SystemClock(), revision=loaded.revision.sha)
    evaluator.evaluate(docs[0])

    def work() -> None:
        for doc in docs:
            evaluator.evaluate(doc)
        for have, want in pairs:
            diffs.diff(have, want)

    return min((timed(work)[0] for _ in range(3)), key=lambda t: t.cpu)


def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        repo, out = make_repository(root, count)
        pool = ThreadPoolExecutor(8)
        store = SqliteStore(root / "state.db", retention=RetentionSettings())
        loader, controller = start(repo, store, pool)
        cold, first = timed(lambda: sync(loader, controller, "startup"))
        assert first.count(Result.UNCHANGED) == count, first.outcomes[:3]
        restart_loader, restarted = start(repo, store, pool)
        restart, _ = timed(lambda: sync(restart_loader, restarted, "startup"))
        sync(loader, controller, "interval")  # confirms; later passes are steady
        steady = min(
            (timed(lambda: sync(loader, controller, "interval"))[0] for _ in range(3)),
            key=lambda t: t.cpu,
        )
        least = floor(loader.last_good, controller)  # type: ignore[arg-type]
        changed = {
            f"resources/f{i:05d}.yaml": resource_yaml(i, out, 2)
            for i in range(0, count, count // 10)
        }
        for path, text in changed.items():
            (repo / path).write_text(text)
        git(repo, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qam", "ten")
        load, _ = timed(lambda: loader.refresh(fetch=False))
        incremental, result = timed(lambda: sync(loader, controller, "git"))
        assert result.count(Result.APPLIED) == len(changed), result.outcomes
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        store.close()
        pool.shutdown()
    print(f"{count} File resources, 1 binding; wall time, and CPU time of all threads")
    print(f"(a) cold start, empty store:   {cold}   (target <= 5 s)")
    print(f"    restart over its statuses: {restart}")
    print(
        f"(b) steady pass: {steady} (target <= 1000 ms); floor (evaluate + diff) {least}; "
        f"pass/floor = {steady / least:.2f}x wall, {steady.cpu / least.cpu:.2f}x cpu"
    )
    print(
        f"(c) pass after a 10-file commit: {incremental} = {incremental / steady * 100:.1f}% "
        f"wall, {incremental.cpu / steady.cpu * 100:.1f}% cpu of the steady pass "
        f"(target <= 5%); loading that revision took {load} more"
    )
    print(f"(d) peak RSS: {peak:.0f} MB (target <= 300 MB)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
