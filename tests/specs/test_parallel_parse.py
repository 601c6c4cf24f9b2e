"""Parsing a large tree on several processes gives the snapshot one process gives: the same
documents in the same order, the same problems, the same models; and a worker that dies has
its share parsed by the caller. The example repository plus generated files, on disk."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from reconciler import assets
from reconciler.source.tree import DirectoryTree
from reconciler.specs import loader, parallel, snapshot


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(assets.template_dir(), repo, ignore=shutil.ignore_patterns("__pycache__"))
    for n in range(60):
        labels = f"{{owner: team-{n % 3}}}" if n % 7 else "{}"
        (repo / "resources" / f"gen-{n}.yaml").write_text(
            f"apiVersion: reconciler.dev/v1\nkind: File\n"
            f"metadata: {{name: gen-{n}, labels: {labels}}}\n"
            f'spec: {{path: out/gen-{n}, content: "{n}\\n", mode: "0644"}}\n'
        )
    (repo / "resources" / "broken.yaml").write_text("kind: File\nmetadata: [not, a, map\n")
    (repo / "resources" / "wrong.yaml").write_text("apiVersion: reconciler.dev/v1\nkind: File\n")
    return repo


def _view(snap: snapshot.Snapshot) -> tuple[object, ...]:
    docs = tuple((d.path, d.line, d.index, d.key, d.body, dict(d.labels)) for d in snap.resources)
    return (docs, tuple(snap.problems), snap.data, [f.path for f in snap.rego])


def _parallel(workers: int) -> loader.ParseMany:
    return lambda tree, jobs, limits: parallel.parse_all(tree, jobs, limits=limits, workers=workers)


def test_two_processes_give_the_snapshot_one_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parallel, "MIN_FILES", 1)
    repo = _repo(tmp_path)
    one = loader.load(DirectoryTree(repo))
    two = loader.load(DirectoryTree(repo), parse_many=_parallel(2))
    assert len(one.resources) > 60 and one.problems
    assert _view(two) == _view(one)
    assert [m for _, m in two.workflows] == [m for _, m in one.workflows]


def test_a_worker_that_dies_has_its_share_parsed_by_the_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parallel, "MIN_FILES", 1)
    repo = _repo(tmp_path)
    parent = os.getpid()
    real = parallel._parse

    def dying(*args: object) -> list[loader.ParsedFile]:
        if os.getpid() != parent:
            os._exit(3)  # a worker killed mid-parse sends nothing
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(parallel, "_parse", dying)
    two = loader.load(DirectoryTree(repo), parse_many=_parallel(2))
    assert _view(two) == _view(loader.load(DirectoryTree(repo)))
