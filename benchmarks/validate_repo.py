"""Cost of `reconciler validate` on a large repository, against plain YAML parsing.

Generates a Git repository holding the example's settings, policies and data plus N
(default 10 000) resource files of about 1 KB in the example's style, then times, each
against a baseline doing the same work with plain `yaml.load_all(CSafeLoader)`:

- cold: a fresh `reconciler validate DIR` process, and `reconciler validate --repo DIR`
  (interpreter start, imports, every file parsed and checked, policies compiled), against
  a fresh interpreter that imports yaml and parses every YAML file of the same checkout
  (so interpreter start-up is charged to both sides);
- warm: in one process, loading a new revision in which 10 files changed with the
  `SpecCache` kept from the first (what the daemon does on each new commit), against
  parsing those same 10 files in-process.

Each figure is the best of `--repeat` runs. Ratios are ours / baseline, lower is better.
Run: `python benchmarks/validate_repo.py [--files N] [--quick]`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import timing
import yaml

from reconciler import assets
from reconciler.policy import bundle
from reconciler.source import git
from reconciler.source.settings import SourceSettings
from reconciler.specs import loader

TEMPLATE = """\
# Storefront service {i}: owned by team {team}, deployed to {ns}.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc-{i}
  namespace: {ns}
  labels:
    app.kubernetes.io/name: svc-{i}
    owner: {team}-leads
    team: {team}
    tier: api
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app.kubernetes.io/name: svc-{i}}}
  template:
    metadata:
      labels: {{app.kubernetes.io/name: svc-{i}, tier: api}}
    spec:
      containers:
        - name: app
          image: registry.example.com/{team}/svc-{i}:1.{minor}.0
          ports: [{{containerPort: 8080}}]
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{cpu: 500m, memory: 256Mi}}
          env:
            - {{name: LOG_LEVEL, value: info}}
            - {{name: UPSTREAM, value: "http://gateway.{ns}.svc.cluster.local:8080"}}
          readinessProbe: {{httpGet: {{path: /healthz, port: 8080}}, periodSeconds: 10}}
"""
TEAMS = ("payments", "storefront", "platform", "data")


def resource(i: int, *, minor: int = 0) -> str:
    team = TEAMS[i % len(TEAMS)]
    return TEMPLATE.format(i=i, team=team, ns=f"{team}-{i % 7}", replicas=2 + i % 3, minor=minor)


def git_cmd(repo: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def generate(root: Path, *, count: int) -> list[Path]:
    """The example without its own resources, plus `count` generated ones, committed."""
    shutil.copytree(assets.template_dir(), root, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.rmtree(root / "resources")
    paths = []
    for i in range(count):
        path = root / "resources" / f"team-{i % 40:02d}" / f"svc-{i:05d}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(resource(i))
        paths.append(path)
    git_cmd(root, "init", "--quiet", "--initial-branch=main")
    git_cmd(root, "add", "--all")
    git_cmd(root, "commit", "--quiet", "-m", "generated")
    return paths


def cli(*args: str) -> Callable[[], None]:
    def run() -> None:
        done = subprocess.run(
            [sys.executable, "-m", "reconciler", "validate", *args],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0 or not done.stdout.startswith("ok: "):
            raise SystemExit(f"validate failed ({done.returncode}): {done.stdout}{done.stderr}")

    return run


BASELINE = """
import sys, pathlib, yaml
for path in sorted(pathlib.Path(sys.argv[1]).rglob("*.y*ml")):
    if ".git" not in path.parts:
        with path.open("rb") as handle:
            for _ in yaml.load_all(handle, Loader=yaml.CSafeLoader):
                pass
"""


def cold_baseline(root: Path) -> Callable[[], None]:
    """A fresh interpreter parsing every YAML file of the checkout."""

    def run() -> None:
        subprocess.run([sys.executable, "-c", BASELINE, str(root)], check=True)

    return run


def parse(paths: list[Path]) -> None:
    for path in paths:
        with path.open("rb") as handle:
            for _ in yaml.load_all(handle, Loader=yaml.CSafeLoader):
                pass


def warm_load(root: Path, *, paths: list[Path], repeat: int) -> tuple[float, float]:
    """Best of `repeat` rounds of `warm_round`: ours, and the baseline."""
    source = git.GitSource.open(SourceSettings(path=root, ref="main"))
    rounds = [warm_round(root, source=source, paths=paths, round_=n) for n in range(repeat)]
    return min(ours for ours, _ in rounds), min(base for _, base in rounds)


def warm_round(
    root: Path, *, source: git.GitSource, paths: list[Path], round_: int
) -> tuple[float, float]:
    """Load HEAD with a fresh cache, commit 10 changed files, then time loading and
    compiling the new HEAD, and parsing the 10 files alone (the baseline)."""
    cache = loader.SpecCache()
    loader.load(source.tree(source.resolve()), cache=cache)
    parsed_before = cache.misses
    changed = [paths[i * 997 % len(paths)] for i in range(10)]
    for i, path in enumerate(changed):
        path.write_text(resource(i * 997 % len(paths), minor=round_ + 1))
    git_cmd(root, "commit", "--quiet", "--all", "-m", f"change {round_}")

    def load() -> None:
        snap = loader.load(source.tree(source.resolve()), cache=cache)
        compiled = bundle.compile(snap)
        assert snap.ok and not compiled.problems, (snap.problems[:3], compiled.problems[:3])

    ours, _ = timing.best_of(1, load)
    assert cache.misses - parsed_before == 10, cache.misses  # only the changed files
    base, _ = timing.best_of(1, lambda: parse(changed))
    return ours, base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="200 files, one run")
    args = parser.parse_args()
    if args.quick:
        args.files, args.repeat = 200, 1
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-") as tmp:
        root = Path(tmp) / "repo"
        paths = generate(root, count=args.files)
        size = sum(p.stat().st_size for p in paths) / len(paths)
        start_up, _ = timing.best_of(args.repeat, cli_start)
        base, _ = timing.best_of(args.repeat, cold_baseline(root))
        cold_dir, _ = timing.best_of(args.repeat, cli(str(root)))
        cold_repo, _ = timing.best_of(args.repeat, cli("--repo", str(root)))
        warm, warm_base = warm_load(root, paths=paths, repeat=args.repeat)
    print(f"{args.files} resource files of {size:.0f} bytes, {os.cpu_count()} CPUs")
    print(f"interpreter start-up alone (python -c pass): {start_up:.2f} s (in both sides)")
    print(f"baseline, fresh python parsing every YAML file: {base:.2f} s")
    print(f"cold validate DIR:                              {cold_dir:.2f} s (target <= 5 s)")
    print(f"cold validate --repo DIR:                       {cold_repo:.2f} s")
    print(f"warm load+compile, 10 files changed: {warm * 1000:.1f} ms")
    print(f"baseline, parsing those 10 files:    {warm_base * 1000:.1f} ms")
    against = "a fresh python parsing the same YAML"
    timing.ratio("cold validate DIR", cold_dir, base, against=against)
    timing.ratio("cold validate --repo DIR", cold_repo, base, against=against)
    timing.ratio("warm load", warm, warm_base, against="parsing the 10 changed files")


def cli_start() -> None:
    subprocess.run([sys.executable, "-c", "pass"], check=True)


if __name__ == "__main__":
    main()
