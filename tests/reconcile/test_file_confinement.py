"""File resources cannot be led out of their root: through the daemon (a real git repo),
a symlink at any component of the path, or `..` at any component, is refused with the
resource and the path named, and the file outside is neither written nor re-moded. Below
the check, a symlink that appears between the check and the write (a race) is refused by
the walk from the root, and absolute paths need a root at all."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reconciler.providers import confined
from tests import gitrepo
from tests.api import live

SETTINGS = (
    "apiVersion: reconciler.dev/v1\nkind: Settings\nmetadata: {name: c}\n"
    "spec: {providers: {File: file}}\n"
)
PARTS = ["a", "b", "c", "target.txt"]


def file_doc(path: str) -> str:
    return json.dumps(
        {
            "apiVersion": "reconciler.dev/v1",
            "kind": "File",
            "metadata": {"name": "f"},
            "spec": {"path": path, "content": "overwritten\n", "mode": "0666"},
        }
    )


def layout(tmp: Path, link_at: int | None) -> tuple[Path, Path]:
    """root/a/b/c, and a victim file outside; with `link_at`, that component of
    root/a/b/c/target.txt is a symlink leading to the victim's side."""
    root, outside = tmp / "root", tmp / "outside"
    (root / "a" / "b" / "c").mkdir(parents=True)
    rest = PARTS[(link_at or 0) + 1 :]
    victim = outside.joinpath(*rest) if rest else outside / "victim.txt"
    victim.parent.mkdir(parents=True, exist_ok=True)
    victim.write_text("precious\n")
    victim.chmod(0o600)
    if link_at is not None:
        link = root.joinpath(*PARTS[: link_at + 1])
        if link.is_dir():
            shutil.rmtree(link)
        link.symlink_to(outside if rest else victim)
    return root, victim


def refused(tmp: Path, path: str, root: Path) -> str:
    repo = tmp / "repo"
    gitrepo.make_repo(repo, {"reconciler.yaml": SETTINGS, "resources/f.yaml": file_doc(path)})
    settings = live.settings_for(
        tmp / "data",
        {"name": "c", "path": str(repo), "ref": "main", "interval": "1h"},
        providers={"file": {"roots": [str(root)]}},
    )
    with live.serve(settings) as running:
        running.wait_for(lambda: running.passes("c") >= 1, "the first pass")
        status = running.get("/api/v1/resources/File//f").json()
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False", status
    return str(ready["message"])


@pytest.mark.parametrize("link_at", range(len(PARTS)), ids=PARTS)
def test_a_symlink_at_any_component_is_refused(tmp_path: Path, link_at: int) -> None:
    root, victim = layout(tmp_path, link_at)
    path = str(root.joinpath(*PARTS))
    message = refused(tmp_path, path, root)
    assert f"spec.path: {path} resolves to " in message
    assert f"outside the allowed roots {root}" in message
    assert "File//f" in message
    assert victim.read_text() == "precious\n"
    assert oct(victim.stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("dots_at", range(len(PARTS)), ids=PARTS)
def test_dot_dot_at_any_component_is_refused(tmp_path: Path, dots_at: int) -> None:
    root, victim = layout(tmp_path, None)
    ups = "/".join([".."] * (dots_at + 1))
    path = "/".join([str(root), *PARTS[:dots_at], ups, "outside", *PARTS[1:]])
    message = refused(tmp_path, path, root)
    assert f"spec.path: {path} resolves to " in message and "outside the allowed roots" in message
    assert victim.read_text() == "precious\n"


@pytest.mark.parametrize("swap_at", range(len(PARTS) - 1), ids=PARTS[:-1])
def test_a_symlink_planted_after_the_check_is_not_followed(tmp_path: Path, swap_at: int) -> None:
    """The race: the path checked clean, then a directory on the way became a symlink."""
    root, victim = layout(tmp_path, swap_at)
    target = root.joinpath(*PARTS)  # as it resolved before the swap
    with pytest.raises(confined.Escaped):
        confined.write(root, target, data=b"overwritten\n", mode=0o666)
    with pytest.raises(confined.Escaped):
        confined.make_directory(root, target, mode=0o777)
    with pytest.raises(confined.Escaped):
        confined.remove(root, target)
    assert victim.read_text() == "precious\n"
    assert oct(victim.stat().st_mode & 0o777) == "0o600"


def test_a_file_that_became_a_symlink_is_replaced_not_followed(tmp_path: Path) -> None:
    root, victim = layout(tmp_path, len(PARTS) - 1)
    target = root.joinpath(*PARTS)
    with pytest.raises(confined.Escaped):
        confined.read(root, target)
    confined.write(root, target, data=b"mine\n", mode=0o644)
    assert not target.is_symlink() and target.read_text() == "mine\n"
    assert victim.read_text() == "precious\n"


def test_without_roots_an_absolute_path_is_refused_through_the_daemon(tmp_path: Path) -> None:
    repo, path = tmp_path / "repo", str(tmp_path / "free.txt")
    gitrepo.make_repo(repo, {"reconciler.yaml": SETTINGS, "resources/f.yaml": file_doc(path)})
    settings = live.settings_for(
        tmp_path / "data",
        {"name": "c", "path": str(repo), "ref": "main", "interval": "1h"},
        providers={},
    )
    with live.serve(settings) as running:
        running.wait_for(lambda: running.passes("c") >= 1, "the first pass")
        status = running.get("/api/v1/resources/File//f").json()
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert f"{path} is absolute and no roots allow absolute paths" in ready["message"]
    assert not Path(path).exists()
