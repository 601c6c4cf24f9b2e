"""Cost of loading a revision's specs: cold (every file parsed) vs warm (blob-id cache).

Generates N (default 10 000) resource files of about 1 KB in an in-memory tree and prints
milliseconds per file for a cold load, a warm load, and a load where one file changed.
Run: `python benchmarks/load_specs.py [N]`.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Iterator

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


def _timed(tree: _Tree, cache: loader.SpecCache | None) -> float:
    start = time.perf_counter()
    snap = loader.load(tree, cache=cache)
    elapsed = time.perf_counter() - start
    assert snap.ok, snap.problems[:3]
    return elapsed


def main(count: int) -> None:
    files = {
        f"resources/app-{i:05d}.yaml": TEMPLATE.format(i=i, ns=i % 50, replicas=1 + i % 5).encode()
        for i in range(count)
    }
    size = sum(map(len, files.values())) / count
    cache = loader.SpecCache()
    cold = _timed(_Tree(files), cache)
    warm = _timed(_Tree(files), cache)
    files["resources/app-00000.yaml"] = files["resources/app-00000.yaml"].replace(b"1.0", b"1.1")
    one_changed = _timed(_Tree(files), cache)
    per = 1000 / count
    print(f"{count} files of {size:.0f} bytes (2 documents each)")
    print(f"cold: {cold * per:.3f} ms/file  ({cold:.2f} s)")
    print(f"warm: {warm * per:.3f} ms/file  ({warm:.2f} s)  cold/warm = {cold / warm:.1f}x")
    print(f"one file changed: {one_changed * per:.3f} ms/file  ({one_changed:.2f} s)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
