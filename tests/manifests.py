"""Kubernetes manifests written for the tests, in `tests/fixtures/manifests/`.

`bookshop/` is a small three-tier application: Deployments whose containers set requests
but no limits, a `NodePort` Service, and an all-in-one `---` stream with comments after
separators and after its last document that repeats the separate files in an older cut
(other images and container names) plus a Service of its own. Real manifests written
elsewhere are run in `tests/external/test_guestbook.py`.
"""

from __future__ import annotations

from pathlib import Path

BOOKSHOP = Path(__file__).resolve().parent / "fixtures" / "manifests" / "bookshop"
ALL_IN_ONE = "bookshop-all-in-one.yaml"


def names(folder: Path = BOOKSHOP) -> list[str]:
    """The manifest files of `folder`, sorted."""
    return sorted(p.name for p in folder.glob("*.yaml"))


def texts(folder: Path = BOOKSHOP, *, under: str = "resources") -> dict[str, str]:
    """`{under}/{name}: text` for every manifest of `folder`, as a repository would hold them."""
    return {f"{under}/{name}": (folder / name).read_text() for name in names(folder)}
