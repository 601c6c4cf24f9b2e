"""A wave's decisions and intents are committed before its first provider call; a daemon
that dies right after that commit leaves intents whose decisions are logged. The next
controller over the same store (a restart) applies each of those changes once, under the
decisions already logged: every apply has exactly one decision for its (object, revision).

The death is a `BaseException` raised from the real file provider's first apply (nothing
catches it, as nothing survives a kill); the store is the real SQLite file the restarted
controller opens again.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from reconciler.providers.file import FileProvider
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore
from tests.reconcile.helpers import Harness, MakeHarness, base_files, file_doc

NAMES = ("a", "b", "c", "d")
CHANGED = ("a", "b", "c")


class Killed(BaseException):
    """The daemon's death at its first provider call."""


def _applies(monkeypatch: pytest.MonkeyPatch, *, die_first: bool) -> list[str]:
    """Note each apply's key; with `die_first`, the first one dies before changing anything."""
    found: list[str] = []
    apply = FileProvider.apply

    def applying(self: FileProvider, resource: Any) -> Any:
        if die_first and not found:
            found.append(f"killed {resource.key}")
            raise Killed
        found.append(resource.key)
        return apply(self, resource)

    monkeypatch.setattr(FileProvider, "apply", applying)
    return found


def _decisions(h: Harness) -> Counter[tuple[str, str]]:
    """How many gate decisions the log holds per (object, revision)."""
    return Counter((d.resource.key, d.revision) for d in h.store.decisions(limit=10_000))


def _restart(h: Harness) -> None:
    """A new store over the same database file, and a new controller over it."""
    h.store.close()
    h.store = SqliteStore(h.root / "state.db", retention=RetentionSettings())
    h.start()


def _killed_after_the_wave(
    make_harness: MakeHarness, out: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Harness, str]:
    h = make_harness(base_files(out, NAMES))
    h.sync()
    files = {f"resources/{n}.yaml": file_doc(n, out / n, content="v2\n") for n in CHANGED}
    v2 = h.commit(files)
    died = _applies(monkeypatch, die_first=True)
    with pytest.raises(Killed):
        h.sync(trigger="git")
    assert died == ["killed File//a"]
    # The wave's commit came before that call: every change's decision and intent is there.
    keys = [f"File//{n}" for n in CHANGED]
    intents = h.store.apply_intents("main")
    assert {k: i.revision for k, i in intents.items()} == dict.fromkeys(keys, v2)
    assert {k: n for (k, rev), n in _decisions(h).items() if rev == v2} == dict.fromkeys(keys, 1)
    assert all((out / n).read_text() == "v1\n" for n in CHANGED)
    return h, v2


def test_a_restart_applies_each_decided_change_once_without_logging_its_decision_again(
    make_harness: MakeHarness, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    h, v2 = _killed_after_the_wave(make_harness, out, monkeypatch)
    before = _decisions(h)
    _restart(h)
    applies = _applies(monkeypatch, die_first=False)
    result = h.sync()

    keys = [f"File//{n}" for n in CHANGED]
    assert h.results(result) == dict.fromkeys(keys, "applied")
    assert sorted(applies) == keys  # each pending apply done once
    assert all((out / n).read_text() == "v2\n" for n in CHANGED)
    assert _decisions(h) == before  # each decision logged once, by the killed pass
    assert h.store.apply_intents("main") == {}
    statuses = [h.store.get_status(k) for k in keys]
    assert [s.last_applied_revision if s else None for s in statuses] == [v2] * len(keys)
    # A later pass finds everything in sync and logs nothing more.
    assert h.results(h.sync()) == {}
    assert _decisions(h) == before


def test_a_change_decided_at_an_older_revision_is_gated_again_at_the_new_one(
    make_harness: MakeHarness, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    h, v2 = _killed_after_the_wave(make_harness, out, monkeypatch)
    v3 = h.commit({"resources/a.yaml": file_doc("a", out / "a", content="v3\n")})
    _restart(h)
    applies = _applies(monkeypatch, die_first=False)
    result = h.sync()

    keys = [f"File//{n}" for n in CHANGED]
    assert h.results(result) == dict.fromkeys(keys, "applied")
    assert sorted(applies) == keys
    assert (out / "a").read_text() == "v3\n"
    # The intents of v2 are forgotten; each change applied at v3 has its own decision, and
    # the decisions of v2 (which no apply followed) stay in the log once each.
    found = _decisions(h)
    assert {k: found[(k, v3)] for k in keys} == dict.fromkeys(keys, 1)
    assert {k: found[(k, v2)] for k in keys} == dict.fromkeys(keys, 1)
    assert h.store.apply_intents("main") == {}
