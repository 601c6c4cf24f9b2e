"""DirectoryTree on real folders: git's blob ids, `.git` left out, sub-paths, symlinks."""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler import errors
from reconciler.source import tree
from tests import gitrepo


@given(st.binary(max_size=2048))
def test_blob_id_is_the_one_git_computes(data: bytes) -> None:
    assert tree.git_blob_id(data) == str(pygit2.hash(data))


def test_lists_files_in_path_order_without_git_folders(tmp_path: Path) -> None:
    gitrepo.write_files(
        tmp_path,
        {
            "b.yaml": "b: 1\n",
            "a-b/x.yaml": "x\n",
            "a/c.yaml": "c\n",
            ".git/HEAD": "ref: refs/heads/main\n",
            "vendor/lib/.git/config": "[core]\n",
            "vendor/lib/keep.yaml": "k\n",
            "sub/.git": "gitdir: ../.git/modules/sub\n",
            ".gitignore": "*.tmp\n",
        },
    )

    directory = tree.DirectoryTree(tmp_path)

    assert [entry.path for entry in directory.entries()] == [
        ".gitignore",
        "a-b/x.yaml",
        "a/c.yaml",
        "b.yaml",
        "vendor/lib/keep.yaml",
    ]
    assert directory.problems() == []


def test_subpath_and_symlinks_leaving_it(tmp_path: Path) -> None:
    gitrepo.write_files(
        tmp_path,
        {
            "deploy/app.yaml": "kind: App\n",
            "deploy/shared.yaml": gitrepo.Symlink("../shared/base.yaml"),
            "deploy/self.yaml": gitrepo.Symlink("./app.yaml"),
            "shared/base.yaml": "kind: Base\n",
        },
    )

    whole = tree.DirectoryTree(tmp_path)
    deploy = tree.DirectoryTree(tmp_path, subpath="./deploy/")

    assert [e.path for e in whole.entries()] == [
        "deploy/app.yaml",
        "deploy/self.yaml",
        "deploy/shared.yaml",
        "shared/base.yaml",
    ]
    assert whole.problems() == []
    shared = next(e for e in whole.entries() if e.path == "deploy/shared.yaml")
    assert whole.read(shared) == b"kind: Base\n"
    assert [e.path for e in deploy.entries()] == ["app.yaml", "self.yaml"]
    assert deploy.problems() == [
        errors.Problem(
            path="shared.yaml", message="symlink escapes the repository (-> ../shared/base.yaml)"
        )
    ]


def test_symlink_into_git_folder_is_not_followed(tmp_path: Path) -> None:
    gitrepo.make_repo(tmp_path, {"head": gitrepo.Symlink(".git/HEAD")})

    directory = tree.DirectoryTree(tmp_path)

    assert list(directory.entries()) == []
    assert [str(p) for p in directory.problems()] == [
        "head: symlink target does not exist (-> .git/HEAD)"
    ]


def test_bad_roots_and_subpaths(tmp_path: Path) -> None:
    (tmp_path / "file.yaml").write_text("a: 1\n")
    messages = []
    for root, subpath in [
        (tmp_path / "missing", ""),
        (tmp_path, "missing"),
        (tmp_path, "file.yaml"),
        (tmp_path, "../elsewhere"),
        (tmp_path, "/etc"),
    ]:
        with pytest.raises(tree.SubpathError) as raised:
            tree.DirectoryTree(root, subpath=subpath)
        messages.append(str(raised.value))

    assert messages == [
        f"{tmp_path / 'missing'} does not exist",
        f'sub-path "missing" does not exist in {tmp_path}',
        f'sub-path "file.yaml" is not a folder in {tmp_path}',
        'sub-path "../elsewhere" escapes the repository',
        'sub-path "/etc" escapes the repository',
    ]


def test_a_file_is_read_once_and_reads_as_it_was_hashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gitrepo.write_files(tmp_path, {"a.yaml": "a: 1\n", "big.bin": "x" * 64})
    monkeypatch.setattr(tree, "KEEP_READ", 32)  # big.bin is over it: read again when asked
    listed = tree.DirectoryTree(tmp_path)
    small, big = sorted(listed.entries(), key=lambda e: e.path)
    (tmp_path / "a.yaml").write_text("a: 2\n")  # changed after the listing hashed it
    (tmp_path / "big.bin").write_text("y" * 64)
    assert listed.read(small) == b"a: 1\n"
    assert tree.git_blob_id(listed.read(small)) == small.blob_id
    assert listed.read(big) == b"y" * 64
