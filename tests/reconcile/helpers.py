"""A source under test: a real git repository, a real SQLite store and a controller over them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.clock import ManualClock
from reconciler.events import Bus, Event
from reconciler.policy.pool import EvaluationPool
from reconciler.providers.base import FileSettings, ProviderSettings
from reconciler.providers.registry import Registry
from reconciler.reconcile.controller import Controller
from reconciler.reconcile.results import PassResult
from reconciler.reconcile.revisions import Loaded, SourceLoader
from reconciler.reconcile.settings import ReconcileSettings
from reconciler.source.settings import SourceSettings
from reconciler.store.sqlite import SqliteStore
from tests import gitrepo

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


def settings_file(*, prune: bool = False) -> str:
    return (
        "apiVersion: reconciler.dev/v1\nkind: Settings\nmetadata: {name: test}\n"
        f"spec: {{prune: {str(prune).lower()}}}\n"
    )


def file_doc(
    name: str,
    path: Path,
    *,
    content: str = "v1\n",
    mode: str = "0644",
    annotations: Mapping[str, str] | None = None,
) -> str:
    meta: dict[str, Any] = {"name": name}
    if annotations:
        meta["annotations"] = dict(annotations)
    spec = {"path": str(path), "content": content, "mode": mode}
    body = {"apiVersion": "reconciler.dev/v1", "kind": "File", "metadata": meta, "spec": spec}
    return json.dumps(body) + "\n"  # JSON is YAML


@dataclass
class Harness:
    root: Path
    repo: Path
    out: Path
    clock: ManualClock
    store: SqliteStore
    settings: ReconcileSettings
    pool: ThreadPoolExecutor
    events: list[Event] = field(default_factory=list)
    loader: SourceLoader | None = None
    controller: Controller | None = None
    evaluations: EvaluationPool | None = None

    def start(self) -> Controller:
        """A new controller (as after a restart) over the same repository and store."""
        self.loader = SourceLoader(SourceSettings(path=self.repo))
        bus = Bus()
        bus.subscribe(self.events.append)
        self.controller = Controller(
            name="main",
            loader=self.loader,
            registry=Registry.load(
                ProviderSettings(
                    repository_dir=self.repo, file=FileSettings(roots=(self.repo.parent.resolve(),))
                )
            ),
            store=self.store,
            bus=bus,
            clock=self.clock,
            settings=self.settings,
            pool=self.pool,
            evaluations=self.evaluations,
        )
        return self.controller

    def sync(self, trigger: str = "test") -> PassResult:
        assert self.loader is not None and self.controller is not None
        self.loader.refresh(fetch=False)
        loaded = self.loader.last_good
        assert isinstance(loaded, Loaded)
        return self.controller.reconcile(loaded, trigger=trigger)

    def commit(self, files: Mapping[str, str], *, delete: Iterable[str] = ()) -> str:
        return gitrepo.commit(self.repo, files, delete=delete)

    def path(self, name: str) -> Path:
        return self.out / name

    def results(self, result: PassResult) -> dict[str, str]:
        """What happened to each object, leaving out those found unchanged."""
        return {o.key: o.result.value for o in result.outcomes if o.result.value != "unchanged"}


MakeHarness = Callable[..., Harness]


def base_files(out: Path, names: Iterable[str] = ("a", "b", "c")) -> dict[str, str]:
    files = {
        "reconciler.yaml": settings_file(),
        "policies/mode.rego": POLICY,
        "policies/bindings.yaml": BINDING,
    }
    files.update({f"resources/{n}.yaml": file_doc(n, out / n) for n in names})
    return files
