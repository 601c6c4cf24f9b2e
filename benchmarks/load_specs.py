"""Cost of loading a revision's specs: cold (every file parsed) and warm (blob-id cache).

Generates N (default 10 000) resource files of about 1 KB in an in-memory tree and prints
milliseconds per file, each figure the best of 3, against baselines doing the same parsing
with plain `yaml.load_all(CSafeLoader)` over the same bytes:

- cold load (fresh cache), against parsing every file;
- warm load (every file cached), against the cold load;
- load with one file changed, against parsing that one file.

Ratios are ours / baseline, lower is better.
Run: `python benchmarks/load_specs.py [N] [--quick]`.
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Iterator

import timing
import yaml

from reconciler.errors import Problem
from reconciler.source.revision import FileEntry, Revision
from reconciler.specs import loader

TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
  namespace: team-{ns}
  labels: {{app: app-{i}, tier: web, owner: team-{ns}}}
  annotations:
    description: "Web front end number {i}, serving the storefront for team {ns}."
    runbook: https://runbooks.example.com/storefront/app-{i}
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
        image: registry.example.com/app-{i}:1.{i}
        ports: [{{containerPort: 8080}}]
        resources:
          requests: {{cpu: 100m, memory: 128Mi}}
          limits: {{cpu: 500m, memory: 256Mi}}
        env:
        - {{name: MODE, value: production}}
        - {{name: INDEX, value: "{i}"}}
        - {{name: UPSTREAM, value: "http://api.team-{ns}.svc.cluster.local:8080"}}
        readinessProbe: {{httpGet: {{path: /healthz, port: 8080}}, periodSeconds: 10}}
---
apiVersion: reconciler.dev/v1
kind: File
metadata: {{name: conf-{i}}}
spec: {{path: /tmp/reconciler-bench/{i}.conf, content: "index={i}\\n", mode: "0644"}}
"""


def _blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class _Tree:
    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.ids = {p: _blob_id(d) for p, d in files.items()}

    @property
    def revision(self) -> Revision | None:
        return None

    def entries(self) -> Iterator[FileEntry]:
        for path in sorted(self.files):
            yield FileEntry(path=path, blob_id=self.ids[path], size=len(self.files[path]))

    def read(self, entry: FileEntry) -> bytes:
        return self.files[entry.path]

    def problems(self) -> list[Problem]:
        return []


def _load(files: dict[str, bytes], cache: loader.SpecCache | None) -> None:
    snap = loader.load(_Tree(files), cache=cache)
    assert snap.ok, snap.problems[:3]


def _parse(texts: list[bytes]) -> None:
    for text in texts:
        for _ in yaml.load_all(text, Loader=yaml.CSafeLoader):
            pass


def main(count: int) -> None:
    files = {
        f"resources/app-{i:05d}.yaml": TEMPLATE.format(i=i, ns=i % 50, replicas=1 + i % 5).encode()
        for i in range(count)
    }
    size = sum(map(len, files.values())) / count
    cache = loader.SpecCache()
    cold, _ = timing.best_of(3, lambda: _load(files, loader.SpecCache()))
    parse_all, _ = timing.best_of(3, lambda: _parse(list(files.values())))
    _load(files, cache)
    warm, _ = timing.best_of(3, lambda: _load(files, cache))
    first = "resources/app-00000.yaml"
    versions = [files[first].replace(b"1.0", f"1.0.{n}".encode()) for n in range(3)]

    def one_changed() -> None:
        files[first] = versions.pop()
        _load(files, cache)

    changed, _ = timing.best_of(3, one_changed)
    parse_one, _ = timing.best_of(3, lambda: _parse([files[first]]))
    per = 1000 / count
    print(f"{count} files of {size:.0f} bytes (2 documents each), best of 3")
    print(
        f"cold: {cold * per:.3f} ms/file ({cold:.2f} s); plain parse {parse_all * per:.3f} ms/file"
    )
    print(f"warm: {warm * per:.3f} ms/file ({warm:.2f} s)")
    print(f"one file changed: {changed * 1000:.1f} ms; plain parse of it {parse_one * 1000:.2f} ms")
    timing.ratio("cold load", cold, parse_all, against="plain parse of every file")
    timing.ratio("warm load", warm, cold, against="the cold load")
    timing.ratio("one file changed", changed, parse_one, against="plain parse of that file")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, nargs="?", default=10_000)
    parser.add_argument("--quick", action="store_true", help="300 files")
    args = parser.parse_args()
    main(300 if args.quick else args.count)
