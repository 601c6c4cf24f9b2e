"""Changes applied from Git and drift (changes outside Git) are separate records."""

from __future__ import annotations

from pathlib import Path

from reconciler.store.interfaces import Drift, ObjectStatus
from tests.reconcile.helpers import Harness, MakeHarness, base_files, file_doc

CONTENT = {"op": "replace", "path": "spec.content", "old": "v1\n", "new": "v2\n"}


def _status(h: Harness, key: str = "File//a") -> ObjectStatus:
    status = h.store.get_status(key)
    assert status is not None
    return status


def test_an_ordinary_commit_is_an_applied_change_not_drift(
    make_harness: MakeHarness, out: Path
) -> None:
    h = make_harness(base_files(out, names=["a"]), self_heal=False)
    h.sync()
    h.commit({"resources/a.yaml": file_doc("a", out / "a", content="v2\n")})
    h.sync(trigger="git")
    status = _status(h)
    assert (status.applied_changes, status.drift) == ([CONTENT], None)
    assert [c.type for c in status.conditions] == ["Ready"]
    h.sync(trigger="interval")
    assert (_status(h).applied_changes, _status(h).drift) == ([CONTENT], None)


def test_a_corrected_drift_is_drift_and_leaves_the_applied_changes_alone(
    make_harness: MakeHarness, out: Path
) -> None:
    h = make_harness(base_files(out, names=["a"]))
    h.sync()
    h.commit({"resources/a.yaml": file_doc("a", out / "a", content="v2\n")})
    h.sync()
    h.clock.advance(60)
    h.path("a").write_text("by hand\n")
    result = h.sync(trigger="interval")
    now = h.clock.now()
    assert h.path("a").read_text() == "v2\n"
    status = _status(h)
    assert status.applied_changes == [CONTENT]
    assert status.drift == Drift(
        fields=({"op": "replace", "path": "spec.content", "old": "by hand\n", "new": "v2\n"},),
        revision=result.revision,
        detected_at=now,
        corrected_at=now,
    )


def test_a_standing_drift_keeps_when_it_was_found_until_it_is_put_back(
    make_harness: MakeHarness, out: Path
) -> None:
    h = make_harness(base_files(out, names=["a"]), self_heal=False)
    first = h.sync()
    h.path("a").write_text("by hand\n")
    h.clock.advance(10)
    found = h.clock.now()
    h.sync()
    h.clock.advance(10)
    h.sync()
    fields = ({"op": "replace", "path": "spec.content", "old": "by hand\n", "new": "v1\n"},)
    standing = Drift(fields=fields, revision=first.revision, detected_at=found)
    assert _status(h).drift == standing
    h.path("a").write_text("v1\n")
    h.clock.advance(10)
    h.sync()
    status = _status(h)
    assert status.drift == Drift(
        fields=fields, revision=first.revision, detected_at=found, corrected_at=h.clock.now()
    )
    assert [c.type for c in status.conditions] == ["Ready"]
