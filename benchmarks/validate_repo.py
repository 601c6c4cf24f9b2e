"""Cost of `reconciler validate` on a large repository, against plain YAML parsing.

Generates a Git repository holding the example's settings, policies and data plus N
(default 10 000) resource files of about 1 KB in the example's style, then times:

- cold: a fresh `reconciler validate DIR` process, and `reconciler validate --repo DIR`
  (interpreter start, imports, every file parsed and checked, policies compiled);
- warm: in one process, a second load of a new revision in which 10 files changed, with the
  `SpecCache` kept from loading the first (what the daemon does on each new commit);
- baseline: `yaml.load_all(CSafeLoader)` of the same resource files, read from disk.

Each figure is the best of `--repeat` runs. Prints seconds and `ratio` lines against the
baseline measured in the same run. Run: `python benchmarks/validate_repo.py [--files N]`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

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


def best(repeat: int, run: Callable[[], None]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


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


def baseline(paths: list[Path]) -> Callable[[], None]:
    def run() -> None:
        for path in paths:
            with path.open("rb") as handle:
                for _ in yaml.load_all(handle, Loader=yaml.CSafeLoader):
                    pass

    return run


def warm_load(root: Path, *, paths: list[Path], repeat: int) -> float:
    """Load HEAD with a fresh cache, commit 10 changed files, time loading the new HEAD."""
    source = git.GitSource.open(SourceSettings(path=root, ref="main"))
    times = []
    for round_ in range(1, repeat + 1):
        cache = loader.SpecCache()
        loader.load(source.tree(source.resolve()), cache=cache)
        parsed_before = cache.misses
        for i in range(10):
            paths[i * 997 % len(paths)].write_text(resource(i * 997 % len(paths), minor=round_))
        git_cmd(root, "commit", "--quiet", "--all", "-m", f"change {round_}")
        start = time.perf_counter()
        snap = loader.load(source.tree(source.resolve()), cache=cache)
        compiled = bundle.compile(snap)
        times.append(time.perf_counter() - start)
        assert snap.ok and not compiled.problems, (snap.problems[:3], compiled.problems[:3])
        assert cache.misses - parsed_before == 10, cache.misses  # only the changed files
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-") as tmp:
        root = Path(tmp) / "repo"
        paths = generate(root, count=args.files)
        size = sum(p.stat().st_size for p in paths) / len(paths)
        cold_dir = best(args.repeat, cli(str(root)))
        cold_repo = best(args.repeat, cli("--repo", str(root)))
        base = best(args.repeat, baseline(paths))
        warm = warm_load(root, paths=paths, repeat=args.repeat)
    print(f"{args.files} resource files of {size:.0f} bytes, {os.cpu_count()} CPUs")
    print(f"baseline yaml.load_all(CSafeLoader): {base:.2f} s")
    print(f"cold validate DIR:                   {cold_dir:.2f} s")
    print(f"cold validate --repo DIR:            {cold_repo:.2f} s")
    print(f"warm load+compile, 10 files changed: {warm:.3f} s")
    print(f"ratio cold DIR / baseline:    {cold_dir / base:.2f}")
    print(f"ratio cold --repo / baseline: {cold_repo / base:.2f}")
    print(f"ratio warm / baseline:        {warm / base:.3f}")


if __name__ == "__main__":
    main()
