"""Provider programs run from the revision being served: a different program in the
watched working tree (uncommitted, or another branch checked out) is never run, a `url:`
source runs its repository-relative programs, and the programs are stored once per
content with the tree's executable bit."""

from __future__ import annotations

import json
import os
from pathlib import Path

from reconciler.source import programs
from reconciler.source.tree import DirectoryTree
from tests import gitrepo
from tests.api import live

SETTINGS = (
    "apiVersion: reconciler.dev/v1\nkind: Settings\nmetadata: {name: p}\n"
    "spec: {providers: {ExecResource: exec}}\n"
)


def program(log: Path, state: Path, tag: str) -> str:
    """An exec provider program that notes who ran (`tag`) and keeps its state in a file."""
    return f"""#!/bin/sh
echo {tag} >> "{log}"
request=$(cat)
case "$request" in
  *'"action": "observe"'*)
    if [ -f "{state}" ]; then printf '{{"observed": %s}}' "$(cat "{state}")"
    else echo '{{"observed": null}}'; fi ;;
  *) echo '{{"port": 1}}' > "{state}"; echo '{{"ok": true}}' ;;
esac
"""


def resource() -> str:
    return json.dumps(
        {
            "apiVersion": "reconciler.dev/v1",
            "kind": "ExecResource",
            "metadata": {"name": "svc"},
            "spec": {"provider": "bin/provider.sh", "desired": {"port": 1}},
        }
    )


def make(repo: Path, tmp: Path) -> tuple[Path, Path]:
    log, state = tmp / "ran.log", tmp / "state.json"
    gitrepo.make_repo(
        repo,
        {
            "reconciler.yaml": SETTINGS,
            "resources/svc.yaml": resource(),
            "bin/provider.sh": gitrepo.Executable(program(log, state, "served")),
        },
    )
    return log, state


def test_a_program_changed_in_the_working_tree_is_not_run(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    log, state = make(repo, tmp_path)
    evil = repo / "bin" / "provider.sh"
    settings = live.settings_for(
        tmp_path / "data", {"name": "p", "path": str(repo), "ref": "main", "interval": "1h"}
    )
    with live.serve(settings) as running:
        running.wait_for(lambda: running.passes("p") >= 1, "the first pass")
        assert json.loads(state.read_text()) == {"port": 1}
        calls = len(log.read_text().split())
        evil.write_text(program(log, state, "working-tree"))  # edited in place, uncommitted
        gitrepo.git(repo, "checkout", "--quiet", "-b", "pr")  # and another branch checked out
        before = running.passes("p")
        running.post("/api/v1/sources/p/sync")
        running.wait_for(lambda: running.passes("p") > before, "a pass after the change")
    ran = log.read_text().split()
    assert len(ran) > calls  # the pass after the change called the program again
    assert set(ran) == {"served"}
    placed = tmp_path / "data" / "programs" / "p"
    [revision] = [d for d in placed.iterdir() if d.name != programs.BLOBS]
    assert os.access(revision / "bin" / "provider.sh", os.X_OK)


def test_a_url_source_runs_its_relative_programs(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    log, state = make(repo, tmp_path)
    settings = live.settings_for(
        tmp_path / "data",
        {
            "name": "p",
            "url": repo.as_uri(),
            "ref": "main",
            "interval": "1h",
            "cacheDir": str(tmp_path / "cache"),
        },
    )
    with live.serve(settings) as running:
        running.wait_for(lambda: running.passes("p") >= 1, "the first pass")
        status = running.get("/api/v1/resources/ExecResource//svc").json()
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True", status
    assert log.read_text().split()[0] == "served"
    assert json.loads(state.read_text()) == {"port": 1}


def test_programs_are_stored_once_per_content_and_pruned(tmp_path: Path) -> None:
    tree_dir = tmp_path / "tree"
    (tree_dir / "bin").mkdir(parents=True)
    (tree_dir / "bin" / "a").write_text("#!/bin/sh\necho a\n")
    (tree_dir / "bin" / "a").chmod(0o755)
    (tree_dir / "bin" / "b").write_text("#!/bin/sh\necho a\n")  # the same content, not +x
    (tree_dir / "x.txt").write_text("data")
    into = tmp_path / "programs"
    into.mkdir()
    tree = DirectoryTree(tree_dir)
    one = programs.materialize(
        tree, ["bin/a", "bin/b", "../x.txt", "missing"], into=into, revision="r1"
    )
    assert sorted(str(p.relative_to(one)) for p in one.rglob("*") if p.is_file()) == [
        "bin/a",
        "bin/b",
    ]
    assert os.access(one / "bin" / "a", os.X_OK) and not os.access(one / "bin" / "b", os.X_OK)
    two = programs.materialize(tree, ["bin/a"], into=into, revision="r2")
    assert (two / "bin" / "a").stat().st_ino == (one / "bin" / "a").stat().st_ino
    programs.prune(into, keep=["r2"])
    assert not one.exists() and (two / "bin" / "a").exists()
    assert len(list((into / programs.BLOBS).iterdir())) == 1  # b's blob went with r1
