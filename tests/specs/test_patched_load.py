"""A revision patched from the one before it equals a full load of the same revision.

Seeded random sequences of commits to a real Git repository: resources, workflows and
runbooks written, broken, duplicated and deleted, mixed with changes a patch must refuse
(settings, policies, data, symlinks); after every commit the chain's snapshot is compared,
problems included, with a full load of that commit by a fresh loader.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from reconciler.source import git
from reconciler.source.settings import SourceSettings
from reconciler.specs import incremental, loader
from tests import gitrepo


def _file(name: str, content: str = "x") -> str:
    return (
        "apiVersion: reconciler.dev/v1\nkind: File\n"
        f"metadata: {{name: {name}}}\nspec: {{path: out/{name}, content: {content}}}\n"
    )


WORKFLOW = """\
apiVersion: reconciler.dev/v1
kind: Workflow
metadata: {name: nightly}
spec:
  steps:
    - {name: one, command: [echo, hi]}
"""
RUNBOOK = """\
apiVersion: reconciler.dev/v1
kind: Runbook
metadata: {name: restart}
spec:
  steps:
    - {name: one, command: [echo, hi]}
"""
SPECS = [
    _file("a"),
    _file("b"),
    _file("c", "y"),
    _file("a", "other"),  # a duplicate of `a` wherever another file holds it
    _file("d") + "---\n" + _file("e"),
    "apiVersion: reconciler.dev/v1\nkind: File\nmetadata: {name: [\n",  # not YAML
    "apiVersion: reconciler.dev/v1\nkind: File\nmetadata: {name: f}\nspec: {mode: 7}\n",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: prod}\n",
    "apiVersion: reconciler.dev/v1\nkind: Workflow\nmetadata: {name: g}\n",  # wrong folder
    "- a list\n",
    "",
]
LINK = "resources/link.yaml"
PATCHABLE = [
    "resources/a.yaml",
    "resources/b.yaml",
    "resources/sub/c.yaml",
    "resources/z.yml",
    "resources/notes.md",
    "docs/readme.md",
]
OTHERS = {
    "reconciler.yaml": [
        "apiVersion: reconciler.dev/v1\nkind: Settings\nmetadata: {name: repo}\n"
        "spec: {defaultEnforcement: advisory}\n",
        "apiVersion: reconciler.dev/v1\nkind: Settings\nmetadata: {name: repo}\nspec: {x: 1}\n",
    ],
    "data/d.yaml": ["limits: {cpu: 1}\n", "limits: [\n"],
    "policies/p.rego": ['package p\n\ndeny contains msg if { false; msg := "no" }\n'],
    "policies/p.yaml": [
        "apiVersion: reconciler.dev/v1\nkind: PolicyBinding\nmetadata: {name: p}\n"
        "spec: {policy: p}\n"
    ],
}


def _step(
    rng: random.Random, *, present: set[str]
) -> tuple[dict[str, gitrepo.FileContent], set[str]]:
    """One commit's writes and deletions, mostly to files a patch can take."""
    writes: dict[str, gitrepo.FileContent] = {}
    deletes = {LINK} & present if rng.random() < 0.8 else set()  # patches resume without it
    for _ in range(rng.randint(1, 3)):
        roll = rng.random()
        if roll < 0.08:
            path = rng.choice(sorted(OTHERS))
            writes[path] = rng.choice(OTHERS[path])
        elif roll < 0.1:
            writes[LINK] = gitrepo.Symlink("a.yaml")
        elif roll < 0.3 and present - writes.keys():
            deletes.add(rng.choice(sorted(present - writes.keys())))
        else:
            path = rng.choice([*PATCHABLE, "workflows/w.yaml", "runbooks/r.yaml"])
            pool = SPECS + ([WORKFLOW] if path.startswith("workflows/") else [])
            pool += [RUNBOOK] if path.startswith("runbooks/") else []
            writes[path] = rng.choice(pool)
    return writes, deletes - writes.keys()


@pytest.mark.parametrize("seed", range(4))
def test_a_patched_revision_equals_a_full_load(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    repo = tmp_path / "repo"
    first = {path: rng.choice(SPECS) for path in PATCHABLE[:3]}
    gitrepo.make_repo(repo, first)
    present = set(first)
    source = git.GitSource.open(SourceSettings(path=repo))
    chain = incremental.Chain(cache=loader.SpecCache())
    for _ in range(20):
        writes, deletes = _step(rng, present=present)
        gitrepo.commit(repo, writes, delete=deletes)
        present = (present | writes.keys()) - deletes
        revision = source.resolve()
        patched = chain.load(source, revision)
        full = loader.load(source.tree(revision))
        assert patched == full, revision.sha
        assert list(patched.files) == list(full.files)
    assert chain.patched >= 5, (chain.patched, chain.full)
    assert chain.full >= 1


def _chained(
    tmp_path: Path, files: dict[str, gitrepo.FileContent]
) -> tuple[Path, git.GitSource, incremental.Chain]:
    repo = tmp_path / "repo"
    gitrepo.make_repo(repo, files)
    source = git.GitSource.open(SourceSettings(path=repo))
    chain = incremental.Chain(cache=loader.SpecCache())
    chain.load(source, source.resolve())
    return repo, source, chain


def test_a_bad_file_in_a_patched_revision_is_named_by_file_line_and_key(tmp_path: Path) -> None:
    repo, source, chain = _chained(tmp_path, {"resources/a.yaml": _file("a")})
    bad = "apiVersion: reconciler.dev/v1\nkind: File\nmetadata: {name: a}\nspec: {mode: 7}\n"
    gitrepo.commit(repo, {"resources/a.yaml": bad})
    snapshot = chain.load(source, source.resolve())
    assert chain.patched == 1
    assert [str(p) for p in snapshot.problems] == [
        'resources/a.yaml:4 spec.mode: must be a quoted octal string like "0644" '
        "(YAML reads 0644 unquoted as a number)",
        "resources/a.yaml:4 spec.path: required",
    ]
    assert snapshot.resources == ()  # and the last good revision's `a` is not lost:
    gitrepo.commit(repo, {"resources/a.yaml": _file("a")})
    fixed = chain.load(source, source.resolve())
    assert fixed.problems == () and [d.key for d in fixed.resources] == ["File//a"]
    assert chain.patched == 2


@pytest.mark.parametrize(
    ("files", "why"),
    [
        ({"reconciler.yaml": OTHERS["reconciler.yaml"][0]}, "settings"),
        ({"data/d.yaml": "limits: {cpu: 2}\n"}, "data"),
        ({"policies/p.rego": OTHERS["policies/p.rego"][0]}, "policies"),
        ({"resources/b.yaml": _file("a")}, "a second definition of an unchanged object"),
        ({"resources/link.yaml": gitrepo.Symlink("a.yaml")}, "a symlink"),
    ],
)
def test_changes_a_patch_cannot_take_load_the_revision_whole(
    tmp_path: Path, files: dict[str, gitrepo.FileContent], why: str
) -> None:
    repo, source, chain = _chained(tmp_path, {"resources/a.yaml": _file("a")})
    gitrepo.commit(repo, files)
    revision = source.resolve()
    assert chain.load(source, revision) == loader.load(source.tree(revision)), why
    assert (chain.patched, chain.full) == (0, 2), why


def test_after_a_symlink_every_revision_is_loaded_whole(tmp_path: Path) -> None:
    """A link's file is its target's: a diff that changes only the target changes both."""
    files = {"resources/a.yaml": _file("a"), "shared/b.yaml": _file("b")}
    repo, source, chain = _chained(
        tmp_path, {**files, "resources/b.yaml": gitrepo.Symlink("../shared/b.yaml")}
    )
    gitrepo.commit(repo, {"shared/b.yaml": _file("b", "new")})
    revision = source.resolve()
    snapshot = chain.load(source, revision)
    assert snapshot == loader.load(source.tree(revision))
    assert [d.body["spec"]["content"] for d in snapshot.resources] == ["x", "new"]
    assert (chain.patched, chain.full) == (0, 2)


def test_the_resources_of_some_files_are_those_a_walk_finds(tmp_path: Path) -> None:
    files = {f"resources/{n}.yaml": _file(n) for n in ("b", "a", "c")}
    files["resources/sub/d.yaml"] = _file("d") + "---\n" + _file("e")
    _, source, chain = _chained(tmp_path, files)
    snapshot = chain.load(source, source.resolve())
    for paths in (["resources/sub/d.yaml", "resources/a.yaml"], ["nope.yaml"], []):
        walked = [d for d in snapshot.resources if d.path in paths]
        assert snapshot.resources_at(paths) == walked
    assert [d.name for d in snapshot.resources_at(["resources/sub/d.yaml"])] == ["d", "e"]
