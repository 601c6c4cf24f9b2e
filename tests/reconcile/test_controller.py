"""Reconcile passes over a real git repository, real files and a real SQLite store."""

from __future__ import annotations

import hashlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from reconciler.conditions import ConditionStatus
from reconciler.events import EventType
from reconciler.providers.base import Capabilities, FileSettings, ProviderSettings
from reconciler.providers.file import FileProvider
from reconciler.reconcile import targets
from reconciler.reconcile.resources import Result
from reconciler.reconcile.targets import Target
from reconciler.runstate import RunKind, RunStatus, StepStatus
from tests.reconcile.helpers import (
    BINDING,
    POLICY,
    MakeHarness,
    base_files,
    file_doc,
    settings_file,
)

KEYS = ["File//a", "File//b", "File//c"]


def test_a_first_pass_applies_everything_and_a_second_finds_it_unchanged(
    make_harness: MakeHarness, out: Path
) -> None:
    h = make_harness(base_files(out))
    first = h.sync()
    assert h.results(first) == dict.fromkeys(KEYS, "applied")
    assert [h.path(n).read_text() for n in "abc"] == ["v1\n"] * 3
    second = h.sync()
    assert [o.result for o in second.outcomes] == [Result.UNCHANGED] * 3  # applied: confirmed
    assert (second.count(Result.UNCHANGED), second.error) == (3, None)
    third = h.sync()
    assert (third.outcomes, third.count(Result.UNCHANGED), third.settled) == ((), 3, 3)
    statuses = h.store.list_status(source="main")
    assert [(s.key, s.observed_generation, s.last_applied_revision) for s in statuses] == [
        (k, 1, first.revision) for k in KEYS
    ]
    assert all(
        [(c.type, c.status) for c in s.conditions] == [("Ready", ConditionStatus.TRUE)]
        for s in statuses
    )
    assert [[h.outcome for h in s.history] for s in statuses] == [["applied"]] * 3


def test_every_pass_is_a_run_with_a_step_per_changed_object(
    make_harness: MakeHarness, out: Path
) -> None:
    h = make_harness(base_files(out))
    h.sync(trigger="startup")
    h.commit({"resources/b.yaml": file_doc("b", out / "b", content="v2\n")})
    h.sync(trigger="git")
    h.sync(trigger="interval")
    runs = h.store.list_runs(kind=RunKind.RECONCILE)
    assert [(r.trigger, r.status) for r in runs] == [
        ("interval", RunStatus.SUCCEEDED),
        ("git", RunStatus.SUCCEEDED),
        ("startup", RunStatus.SUCCEEDED),
    ]
    assert [[(s.name, s.status, s.output) for s in r.steps] for r in runs] == [
        [],
        [("File//b", StepStatus.SUCCEEDED, {"result": "applied"})],
        [(k, StepStatus.SUCCEEDED, {"result": "applied"}) for k in KEYS],
    ]


def test_a_hand_edit_is_drift_and_is_healed(make_harness: MakeHarness, out: Path) -> None:
    h = make_harness(base_files(out))
    h.sync()
    h.path("b").write_text("by hand\n")
    result = h.sync(trigger="interval")
    assert h.results(result) == {"File//b": "applied"}
    assert [o.drifted for o in result.outcomes if o.key == "File//b"] == [True]
    assert h.path("b").read_text() == "v1\n"
    healing = [e for e in h.events if e.data.get("revision") == result.revision][-2:]
    assert [(e.type, e.object_key, e.message) for e in healing] == [
        (EventType.DRIFT_DETECTED, "File//b", "changed outside Git: spec.content"),
        (EventType.DRIFT_CORRECTED, "File//b", "restored from Git: spec.content"),
    ]
    applied = [e.object_key for e in h.events if e.type is EventType.RESOURCE_APPLIED]
    assert applied == KEYS  # the first pass's: a correction is not a change from Git


def test_without_self_heal_drift_is_reported_and_left_alone(
    make_harness: MakeHarness, out: Path
) -> None:
    h = make_harness(base_files(out), self_heal=False)
    h.sync()
    h.path("b").write_text("by hand\n")
    result = h.sync()
    assert h.results(result) == {"File//b": "drift-reported"}
    assert h.results(h.sync()) == {"File//b": "drift-reported"}
    assert h.path("b").read_text() == "by hand\n"
    drift = [e.object_key for e in h.events if e.type is EventType.DRIFT_DETECTED]
    assert drift == ["File//b"]  # announced once, not on every pass
    status = h.store.get_status("File//b")
    assert status is not None
    assert [(c.type, c.status, c.reason, c.message) for c in status.conditions] == [
        ("Drifted", "True", "DriftDetected", "changed outside Git: spec.content"),
        ("Ready", "False", "DriftDetected", "changed outside Git: spec.content"),
    ]


def test_a_change_in_git_is_not_drift_even_after_a_restart(
    make_harness: MakeHarness, out: Path
) -> None:
    h = make_harness(base_files(out), self_heal=False)
    h.sync()
    h.commit({"resources/a.yaml": file_doc("a", out / "a", content="v2\n")})
    h.start()  # a new daemon: nothing remembered but the store
    result = h.sync()
    assert h.results(result) == {"File//a": "applied"}
    assert [o.drifted for o in result.outcomes if o.key == "File//a"] == [False]
    assert h.path("a").read_text() == "v2\n"
    status = h.store.get_status("File//a")
    assert status is not None and status.observed_generation == 2


def test_a_restart_finds_everything_unchanged_and_rewrites_nothing(
    make_harness: MakeHarness, out: Path
) -> None:
    h = make_harness(base_files(out))
    h.sync()
    before = h.store.list_status()
    h.clock.advance(60)
    h.start()
    result = h.sync()
    assert (h.results(result), result.count(Result.UNCHANGED)) == ({}, 3)
    assert h.store.list_status() == before


def test_a_new_revision_reconciles_only_what_it_changed(
    make_harness: MakeHarness, out: Path
) -> None:
    h = make_harness(base_files(out))
    h.sync()
    h.sync()  # finds what the first pass applied in sync
    h.path("c").write_text("by hand\n")
    h.commit({"resources/a.yaml": file_doc("a", out / "a", content="v2\n")})
    result = h.sync(trigger="git")
    assert (result.incremental, h.results(result), result.settled) == (
        True,
        {"File//a": "applied"},
        2,
    )
    assert h.path("c").read_text() == "by hand\n"  # left for the interval pass
    interval = h.sync(trigger="interval")
    assert (interval.incremental, h.results(interval)) == (False, {"File//c": "applied"})
    assert h.path("c").read_text() == "v1\n"


def test_removed_objects_are_orphans_until_pruning_is_on(
    make_harness: MakeHarness, out: Path
) -> None:
    h = make_harness(base_files(out))
    h.sync()
    h.commit({}, delete=["resources/c.yaml"])
    result = h.sync()
    assert (result.orphans, h.results(result)) == (("File//c",), {"File//c": "orphaned"})
    assert h.path("c").exists()
    status = h.store.get_status("File//c")
    assert status is not None and status.inventory is False
    assert h.sync().orphans == ("File//c",)
    h.commit({"reconciler.yaml": settings_file(prune=True)})
    pruned = h.sync()
    assert (pruned.orphans, h.results(pruned)) == ((), {"File//c": "deleted"})
    assert not h.path("c").exists()
    assert h.store.get_status("File//c") is None
    assert [e.object_key for e in h.events if e.type is EventType.RESOURCE_DELETED] == ["File//c"]


def test_pruning_never_deletes_what_this_daemon_did_not_apply(
    make_harness: MakeHarness, out: Path
) -> None:
    files = base_files(out, names=["a"])
    files["reconciler.yaml"] = settings_file(prune=True)
    files["resources/locked.yaml"] = file_doc("locked", out / "locked", mode="0777")
    h = make_harness(files)
    h.path("locked").write_text("made by hand\n")
    first = h.sync()
    assert h.results(first) == {"File//a": "applied", "File//locked": "blocked"}
    h.commit({}, delete=["resources/locked.yaml"])
    result = h.sync()
    assert (result.orphans, h.results(result)) == ((), {})
    assert h.path("locked").read_text() == "made by hand\n"


def test_a_deletion_is_gated_and_its_decisions_are_logged(
    make_harness: MakeHarness, out: Path
) -> None:
    files = base_files(out, names=["a"])
    files["reconciler.yaml"] = settings_file(prune=True)
    h = make_harness(files)
    first = h.sync()
    h.commit({}, delete=["resources/a.yaml"])
    result = h.sync()
    assert h.results(result) == {"File//a": "deleted"}
    logged = h.store.decisions(key="File//a")
    assert [(d.binding, d.action_taken.value, d.revision) for d in logged] == [
        ("no-world-writable", "allowed", result.revision),
        ("no-world-writable", "allowed", first.revision),
    ]
    assert h.store.violations(key="File//a") == []


def test_waves_and_dependencies_set_the_order(make_harness: MakeHarness, out: Path) -> None:
    files = base_files(out, names=[])
    files["resources/app.yaml"] = file_doc(
        "app", out / "app", annotations={"reconciler.dev/depends-on": "File//config"}
    )
    files["resources/config.yaml"] = file_doc("config", out / "config")
    files["resources/dir.yaml"] = file_doc(
        "dir", out / "dir", annotations={"reconciler.dev/wave": "-1"}
    )
    h = make_harness(files)
    h.sync()
    applied = [e.object_key for e in h.events if e.type is EventType.RESOURCE_APPLIED]
    assert applied == ["File//dir", "File//config", "File//app"]


def test_a_blocked_dependency_makes_its_dependant_wait(
    make_harness: MakeHarness, out: Path
) -> None:
    files = base_files(out, names=[])
    files["resources/app.yaml"] = file_doc(
        "app", out / "app", annotations={"reconciler.dev/depends-on": "File//config"}
    )
    files["resources/config.yaml"] = file_doc("config", out / "config", mode="0777")
    h = make_harness(files)
    result = h.sync()
    assert h.results(result) == {"File//config": "blocked", "File//app": "waiting"}
    assert not h.path("app").exists()
    status = h.store.get_status("File//app")
    assert status is not None
    assert [(c.type, c.status, c.reason, c.message) for c in status.conditions] == [
        ("Ready", "False", "DependencyNotReady", "waiting for File//config, which is not ready"),
    ]
    assert status.last_attempted_revision is None and status.last_applied_revision is None


def test_a_dependency_on_an_unknown_object_fails_only_its_dependant(
    make_harness: MakeHarness, out: Path
) -> None:
    files = base_files(out, names=["a"])
    files["resources/app.yaml"] = file_doc(
        "app", out / "app", annotations={"reconciler.dev/depends-on": "File//nowhere"}
    )
    h = make_harness(files)
    result = h.sync()
    assert h.results(result) == {"File//app": "failed", "File//a": "applied"}
    status = h.store.get_status("File//app")
    assert status is not None
    message = (
        'resources/app.yaml:1 metadata.annotations["reconciler.dev/depends-on"]: depends on '
        "File//nowhere, which is not a managed object of this revision"
    )
    assert [(c.type, c.reason, c.message) for c in status.conditions] == [
        ("Ready", "ValidationFailed", message),
        ("SpecInvalid", "ValidationFailed", message),
    ]


def test_history_does_not_repeat_itself(make_harness: MakeHarness, out: Path) -> None:
    files = base_files(out, names=[])
    files["resources/locked.yaml"] = file_doc("locked", out / "locked", mode="0777")
    h = make_harness(files)
    for _ in range(3):
        h.sync()
    status = h.store.get_status("File//locked")
    assert status is not None
    assert [(e.outcome, e.message) for e in status.history] == [
        ("blocked", "files.mode: locked: mode 0777 is not allowed")
    ]


__all__ = ["BINDING", "POLICY"]


FLAKY_SERVICE = """\
import json, pathlib, sys
here = pathlib.Path(__file__).parent
request = json.load(sys.stdin)
state = here / "service.json"
if request["action"] == "observe":
    print(json.dumps({"observed": json.loads(state.read_text()) if state.exists() else None}))
elif (here / "healthy").exists():
    state.write_text(json.dumps(request["resource"]["spec"]["desired"]))
    print(json.dumps({"observed": request["resource"]["spec"]["desired"]}))
else:
    print(json.dumps({"error": "service unavailable"}))
"""


def test_backoff_grows_exponentially_and_resets_on_success(
    make_harness: MakeHarness, out: Path, tmp_path: Path
) -> None:
    program = tmp_path / "service" / "flaky.py"
    program.parent.mkdir()
    program.write_text(FLAKY_SERVICE)
    files = base_files(out, names=[])
    files["resources/svc.yaml"] = (
        "apiVersion: reconciler.dev/v1\nkind: ExecResource\nmetadata: {name: svc}\n"
        f"spec: {{provider: {program}, desired: {{port: 8080}}}}\n"
    )
    h = make_harness(files)
    assert h.controller is not None
    key = "ExecResource//svc"
    seen = []
    for step in [0, 0, 1, 1, 1, 1, 1, 1, 1, 1]:  # t = 0 0 1 2 3 4 5 6 7 8: tries at 0, 1, 3, 7
        h.clock.advance(step)
        seen.append(h.results(h.sync())[key][0])
    assert "".join(seen) == "fbfbfbbbfb"  # f: failed, b: backing off
    assert h.controller.backoff.failures(key) == 4
    (program.parent / "healthy").touch()
    h.clock.advance(8)
    assert h.results(h.sync()) == {key: "applied"}
    assert h.controller.backoff.failures(key) == 0
    status = h.store.get_status(key)
    assert status is not None and [c.type for c in status.conditions] == ["Ready"]
    (program.parent / "healthy").unlink()
    (program.parent / "service.json").write_text('{"port": 1}')
    h.sync()
    assert [h.results(h.sync()) for _ in range(2)] == [{key: "backing-off"}] * 2
    h.clock.advance(1)
    assert h.results(h.sync()) == {key: "failed"}


def test_a_standing_denial_is_logged_once_and_announced_once_per_revision(
    make_harness: MakeHarness, out: Path
) -> None:
    files = base_files(out, names=[])
    files["resources/locked.yaml"] = file_doc("locked", out / "locked", mode="0777")
    h = make_harness(files)
    for _ in range(3):
        assert h.results(h.sync()) == {"File//locked": "blocked"}
    first = h.store.decisions(key="File//locked")
    second = h.commit({"resources/other.yaml": file_doc("other", out / "other")})
    h.sync()
    h.sync()
    logged = h.store.decisions(key="File//locked")
    assert [(d.action_taken.value, d.revision) for d in logged] == [
        ("blocked", first[0].revision),
    ]
    blocked = [e.data["revision"] for e in h.events if e.type is EventType.RESOURCE_BLOCKED]
    assert blocked == [first[0].revision, second]


def test_every_logged_decision_keeps_the_input_it_was_made_on(
    make_harness: MakeHarness, out: Path
) -> None:
    files = base_files(out)
    files["resources/bad.yaml"] = file_doc("bad", out / "bad", mode="0777")
    h = make_harness(files)
    h.sync()
    pairs = list(h.store.iter_decisions_with_inputs())
    assert {d.resource.key for d, _ in pairs} == {*KEYS, "File//bad"}
    for decision, text in pairs:
        assert text is not None, decision
        assert hashlib.sha256(text.encode()).hexdigest() == decision.input_digest
        assert json.loads(text)["resource"]["metadata"]["name"] == decision.resource.name


def test_local_providers_are_observed_inline_and_waiting_ones_on_the_pool(
    make_harness: MakeHarness, out: Path
) -> None:
    h = make_harness(base_files(out))
    h.sync()
    assert h.loader is not None and h.loader.last_good is not None
    file_provider = FileProvider(ProviderSettings(file=FileSettings(roots=(out.resolve(),))))
    waiting = Waiting(file_provider)
    found = {
        doc.key: Target(doc=doc, provider=waiting if doc.name in ("b", "c") else file_provider)
        for doc in h.loader.last_good.snapshot.resources
    }
    pool = ThreadPoolExecutor(2)
    observed, errors = targets.observe(targets=found, keys=sorted(found), pool=pool, concurrency=1)
    pool.shutdown()
    assert (sorted(observed), errors) == (KEYS, {})
    main = threading.get_ident()
    assert waiting.threads and main not in waiting.threads  # on the pool
    assert file_provider.capabilities.waits is False


class Waiting:
    """A provider that says it waits (like exec or http) and records where it was called."""

    capabilities = Capabilities()
    name = "waiting"

    def __init__(self, inner: FileProvider) -> None:
        self.inner, self.threads = inner, set[int]()

    def observe(self, resource: Any) -> Any:
        self.threads.add(threading.get_ident())
        return self.inner.observe(resource)
