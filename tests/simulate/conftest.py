"""Pull requests against the example repository: a real git repository made from
`repo-template/`, a base commit and a head commit on top of it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler import assets
from reconciler.clock import SystemClock
from reconciler.policy import bundle as bundles
from reconciler.policy.evaluate import Evaluator, canonical
from reconciler.simulate import simulation
from reconciler.simulate.records import Report
from reconciler.simulate.settings import SimulateSettings
from reconciler.source.settings import SourceSettings
from reconciler.source.tree import DirectoryTree
from reconciler.specs import loader
from reconciler.specs.models import InputFormat
from reconciler.store.interfaces import Store
from tests import gitrepo

NOW = datetime(2026, 6, 1, tzinfo=UTC)


class FixedNow(SystemClock):
    """Real monotonic time (the sandbox deadline), a fixed wall-clock date (gradual
    deadlines and exception expiries decide the same way whenever the tests run)."""

    def now(self) -> datetime:
        return NOW


def template_files() -> dict[str, str | bytes]:
    root = assets.template_dir()
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


@dataclass
class PullRequest:
    repo: Path
    base: str
    head: str = ""

    def change(self, files: Mapping[str, str], *, delete: Iterable[str] = ()) -> str:
        self.head = gitrepo.commit(self.repo, dict(files), delete=delete, message="pr")
        return self.head

    def simulate(
        self, *, data_dir: Path | None = None, settings: SimulateSettings | None = None
    ) -> Report:
        request = simulation.Request(
            source=SourceSettings(path=self.repo),
            base=self.base,
            head=self.head,
            data_dir=data_dir,
            settings=settings or SimulateSettings(),
        )
        return simulation.simulate(request, clock=FixedNow())


@pytest.fixture
def pr(tmp_path: Path) -> PullRequest:
    repo = tmp_path / "repo"
    base = gitrepo.make_repo(repo, template_files())
    return PullRequest(repo=repo, base=base)


def record_decisions(
    store: Store, repo: Path, *, revision: str, passes: int = 1
) -> tuple[int, int]:
    """Evaluate the checked-out repository as the daemon would and log the decisions with
    their inputs (the inputs are rebuilt the way `Evaluator` builds them). Constraint
    decisions are logged without their input. Returns (decisions logged, without input)."""
    snap = loader.load(DirectoryTree(repo))
    compiled = bundles.compile(snap)
    evaluator = Evaluator(compiled, clock=FixedNow(), revision=revision)
    params = {doc.name: b.spec for doc, b in compiled.bindings}
    logged = without = 0
    for _ in range(passes):
        for doc in snap.resources:
            decisions = evaluator.evaluate(doc)
            texts = {}
            for d in decisions:
                spec = params.get(d.binding)
                if spec is None:
                    without += 1
                    continue
                text = (
                    canonical(doc.body)
                    if spec.input is InputFormat.CONFTEST
                    else canonical(
                        {
                            "change": None,
                            "observed": None,
                            "parameters": spec.parameters,
                            "resource": doc.body,
                            "revision": revision,
                        }
                    )
                )
                assert hashlib.sha256(text.encode()).hexdigest() == d.input_digest
                texts[d.input_digest] = text
            store.put_inputs(texts)
            logged += store.append_decisions(decisions)
    return logged, without


Simulate = Callable[..., Report]
