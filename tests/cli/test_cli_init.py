"""`reconciler init DIR`: a new Git repository holding the example, with one commit."""

from __future__ import annotations

from pathlib import Path

from reconciler import assets
from tests import gitrepo
from tests.cli.conftest import Cli


def template_files() -> set[str]:
    root = assets.template_dir()
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_init_makes_a_repository_with_one_commit_holding_the_example(
    cli: Cli, tmp_path: Path
) -> None:
    target = tmp_path / "new"
    done = cli("init", target)
    sha = gitrepo.git(target, "rev-parse", "HEAD")
    assert done.code == 0, done.err
    assert done.lines == [
        f"created {target} at {sha[:12]}",
        f"next: reconciler validate {target}; reconciler eval {target}; reconciler test {target}",
    ]
    assert gitrepo.git(target, "rev-list", "--count", "HEAD") == "1"
    assert gitrepo.git(target, "status", "--porcelain") == ""
    assert set(gitrepo.git(target, "ls-files").splitlines()) == template_files()
    assert gitrepo.git(target, "log", "-1", "--format=%s") == "Initial commit from reconciler init"


def test_init_accepts_an_empty_directory(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "empty"
    target.mkdir()
    assert cli("init", target).code == 0
    assert (target / "reconciler.yaml").is_file()


def test_init_refuses_a_directory_with_files_and_leaves_it_alone(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("mine\n")
    done = cli("init", target)
    assert done.code == 1
    assert done.out == ""
    assert done.err == f"error: {target}: already exists and is not an empty directory\n"
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]
    assert (target / "notes.txt").read_text() == "mine\n"


def test_init_refuses_a_path_that_is_a_file(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    done = cli("init", target)
    assert (done.code, done.err) == (
        1,
        f"error: {target}: already exists and is not an empty directory\n",
    )
    assert target.read_text() == "x"
