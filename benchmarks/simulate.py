"""End-to-end cost of `simulate` on a large repository, beside a plain validate of the head.

Builds a git repository from the example (`repo-template/`) plus N (default 10 000)
generated Deployments in files of 10, then a head commit changing 20 of those files (a
label dropped in one, replicas changed in the others). Prints, best of three runs:

- baseline: one plain validate of the head revision in this process (load + compile, what
  `reconciler validate` does);
- simulate: the whole simulation (sandbox process start, both revisions loaded and
  compiled, every head resource evaluated under both bundles, Rego tests, conflicts,
  runbook checks, plan) and its ratio to the baseline.

The `ratio` is simulate time / validate time, lower is better.
Run: `python benchmarks/simulate.py [N] [--quick]`. Target: simulate <= 5 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import timing
from timing import best_of

from reconciler import assets
from reconciler.clock import SystemClock
from reconciler.policy import bundle as bundles
from reconciler.simulate import simulation
from reconciler.simulate.settings import SimulateSettings
from reconciler.source import git
from reconciler.source.settings import SourceSettings
from reconciler.specs import loader

PER_FILE = 10
CHANGED = 20
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
  namespace: team-{ns}
  labels: {{app: app-{i}, tier: web, owner: team-{ns}, team: storefront}}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: app-{i}}}
  template:
    metadata:
      labels: {{app: app-{i}, tier: web}}
    spec:
      containers:
      - name: web
        image: registry.example.com/storefront/app-{i}:1.{i}
        resources:
          requests: {{cpu: 100m, memory: 128Mi}}
          limits: {{cpu: 500m, memory: 256Mi}}
"""


def _git(repo: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def _file(index: int, *, replicas: int = 3, drop_team: bool = False) -> str:
    docs = []
    for i in range(index * PER_FILE, (index + 1) * PER_FILE):
        text = DEPLOYMENT.format(i=i, ns=i % 50, replicas=replicas)
        docs.append(
            text.replace(", team: storefront", "") if drop_team and i % PER_FILE == 0 else text
        )
    return "---\n".join(docs)


def build(root: Path, count: int) -> tuple[Path, str, str]:
    repo = root / "repo"
    template = assets.template_dir()
    for path in template.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            target = repo / path.relative_to(template)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    generated = repo / "resources" / "generated"
    generated.mkdir(parents=True)
    files = count // PER_FILE
    for index in range(files):
        (generated / f"apps-{index:05d}.yaml").write_text(_file(index))
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    _git(repo, "tag", "base")
    for n, index in enumerate(range(0, files, max(1, files // CHANGED))):
        if n == CHANGED:
            break
        text = _file(index, drop_team=True) if n == 0 else _file(index, replicas=4)
        (generated / f"apps-{index:05d}.yaml").write_text(text)
    _git(repo, "commit", "-q", "-am", "head")
    return repo, "base", "main"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, nargs="?", default=10_000)
    parser.add_argument("--quick", action="store_true", help="400 resources")
    args = parser.parse_args()
    count = 400 if args.quick else args.count
    with tempfile.TemporaryDirectory() as tmp:
        repo, base, head = build(Path(tmp), count)
        config = SourceSettings(path=repo)

        def validate() -> int:
            source = git.GitSource.open(config)
            snap = loader.load(source.tree(source.resolve(head)))
            return len(snap.problems) + len(bundles.compile(snap).problems)

        def simulate() -> Any:
            request = simulation.Request(
                source=config, base=base, head=head, settings=SimulateSettings(cpu_seconds=60)
            )
            return simulation.simulate(request, clock=SystemClock())

        plain, problems = best_of(3, validate)
        full, report = best_of(3, simulate)
    assert problems == 0 and not report.errors, report.errors
    deltas = len(report.decisions.deltas) if report.decisions else 0
    print(
        f"{count} resources, {len(report.changed_paths)} changed files, {deltas} decision "
        f"changes, {report.decisions.decisions_head if report.decisions else 0} decisions"
    )
    print(f"baseline  validate head (in process): {plain:6.2f} s")
    print(
        f"simulate  end to end (sandboxed):     {full:6.2f} s"
        f"  target <= 5 s: {'met' if full <= 5 else 'NOT met'}"
    )
    timing.ratio("simulate", full, plain, against="a plain validate of the head")


if __name__ == "__main__":
    main()
