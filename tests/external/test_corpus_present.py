"""The external corpus is laid out as its README says (guards the group's own paths)."""

from __future__ import annotations

from pathlib import Path


def test_the_shared_folders_hold_what_the_group_reads(shared: Path) -> None:
    assert (shared / "fixtures" / "webhooks").is_dir()
    assert (shared / "corpora" / "gatekeeper-library" / "library").is_dir()
    assert (shared / "corpora" / "conftest" / "acceptance.bats").is_file()
