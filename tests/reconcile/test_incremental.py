"""A pass after a small commit costs what the commit changed: it observes, writes and
evaluates only the changed objects (and those bound to a changed policy), makes a wave's
decisions and intents durable in one transaction before its first provider call, writes
its statuses in one more, and still observes everything when drift detection is due.

What a pass wrote is read from the real SQLite store's statements (SQLAlchemy's
`before_cursor_execute` and `commit` events); what it observed and evaluated from the real
provider and evaluator, wrapped to note each call."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from reconciler.policy.evaluate import Evaluator
from reconciler.providers.file import FileProvider
from tests.reconcile.helpers import BINDING, Harness, MakeHarness, base_files, file_doc

NAMES = ("a", "b", "c", "d", "e", "f")
WRITTEN = ("object_status", "object_conditions", "decisions", "current_decisions", "apply_intents")


@dataclass
class Trace:
    """Statements, commits, provider calls and evaluations, in the order they happened."""

    log: list[tuple[str, str]] = field(default_factory=list)
    rows: dict[str, set[str]] = field(default_factory=dict)  # table -> keys written
    observed: list[str] = field(default_factory=list)
    evaluated: list[str] = field(default_factory=list)  # outside the gate

    def clear(self) -> None:
        self.log.clear()
        self.rows.clear()
        self.observed.clear()
        self.evaluated.clear()


@pytest.fixture
def trace(monkeypatch: pytest.MonkeyPatch) -> Iterator[Trace]:
    found = Trace()
    observe, apply, evaluate = FileProvider.observe, FileProvider.apply, Evaluator.evaluate

    def observing(self: FileProvider, resource: Any) -> Any:
        found.observed.append(resource.key)
        return observe(self, resource)

    def applying(self: FileProvider, resource: Any) -> Any:
        found.log.append(("apply", resource.key))
        return apply(self, resource)

    def evaluating(self: Evaluator, doc: Any, **kwargs: Any) -> Any:
        if kwargs.get("gate") is False:
            found.evaluated.append(doc.key)
        return evaluate(self, doc, **kwargs)

    monkeypatch.setattr(FileProvider, "observe", observing)
    monkeypatch.setattr(FileProvider, "apply", applying)
    monkeypatch.setattr(Evaluator, "evaluate", evaluating)
    yield found


def _listen(h: Harness, trace: Trace) -> None:
    engine = h.store._engine

    def statement(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: Any) -> None:
        verb = sql.split(None, 1)[0].upper()
        table = next((t for t in WRITTEN if f" {t} " in f" {sql} ".replace("(", " ")), None)
        if verb in ("INSERT", "UPDATE", "DELETE") and table is not None:
            trace.log.append((verb, table))
            for row in context.compiled_parameters:  # by bind name: a column's is its name
                if isinstance(row.get("key"), str):
                    trace.rows.setdefault(table, set()).add(row["key"])

    sa.event.listen(engine, "before_cursor_execute", statement)
    sa.event.listen(engine, "commit", lambda conn: trace.log.append(("COMMIT", "")))


def _settled(make_harness: MakeHarness, out: Path, trace: Trace) -> Harness:
    h = make_harness(base_files(out, NAMES))
    h.sync()
    h.sync()  # finds what the first pass applied in sync
    _listen(h, trace)
    trace.clear()
    return h


def test_a_small_commit_writes_and_observes_only_the_changed_objects(
    make_harness: MakeHarness, out: Path, trace: Trace
) -> None:
    h = _settled(make_harness, out, trace)
    h.commit({f"resources/{n}.yaml": file_doc(n, out / n, content="v2\n") for n in ("b", "e")})
    result = h.sync(trigger="git")

    changed = {"File//b", "File//e"}
    assert (result.incremental, h.results(result)) == (True, dict.fromkeys(changed, "applied"))
    assert sorted(trace.observed) == ["File//b", "File//e"]
    tables = ("decisions", "apply_intents", "object_status", "object_conditions")
    assert trace.rows == dict.fromkeys(tables, changed)
    assert trace.evaluated == []  # the gate decided both: nothing else to evaluate
    # The wave's decisions and intents are one transaction, committed before either apply;
    # the statuses, with the intents forgotten, one more after both.
    first_apply = min(trace.log.index(("apply", k)) for k in changed)
    before = trace.log[:first_apply]
    assert before[-1] == ("COMMIT", "")
    wave = before[before.index(("INSERT", "decisions")) :]
    assert set(wave) == {("INSERT", "decisions"), ("INSERT", "apply_intents"), ("COMMIT", "")}
    assert wave.count(("COMMIT", "")) == 1
    after = trace.log[first_apply:]
    assert after[:2] == [("apply", "File//b"), ("apply", "File//e")]  # in plan order
    record = after[2 : after.index(("COMMIT", ""), 2) + 1]
    assert ("INSERT", "object_status") in record and ("DELETE", "apply_intents") in record
    # The run's start, the intents read, the wave, the record and the run's end.
    assert trace.log.count(("COMMIT", "")) == 5


def test_a_policy_change_evaluates_exactly_the_resources_bound_to_it(
    make_harness: MakeHarness, out: Path, trace: Trace
) -> None:
    files = base_files(out, NAMES)
    scoped = BINDING.replace("kinds: [File]", "kinds: [File], names: [a, b]")
    files["policies/bindings.yaml"] = scoped
    files["policies/other.rego"] = OTHER
    files["policies/other.yaml"] = OTHER_BINDING
    h = make_harness(files)
    h.sync()
    h.sync()
    _listen(h, trace)

    trace.clear()
    h.commit({"policies/mode.rego": files["policies/mode.rego"].replace("0777", "0776")})
    result = h.sync(trigger="git")
    assert (result.incremental, h.results(result)) == (True, {})
    assert sorted(trace.evaluated) == ["File//a", "File//b"]
    assert trace.observed == [] and "object_status" not in trace.rows

    trace.clear()
    h.commit({"policies/other.yaml": OTHER_BINDING.replace("names: [c]", "names: [c, d]")})
    h.sync(trigger="git")
    assert sorted(trace.evaluated) == ["File//c", "File//d"]

    trace.clear()  # data may be read by any policy: every document is evaluated again
    h.commit({"data/limits.yaml": "limits: {max: 3}\n"})
    h.sync(trigger="git")
    assert sorted(trace.evaluated) == [f"File//{n}" for n in NAMES]


def test_drift_detection_observes_everything_when_due_even_at_a_new_revision(
    make_harness: MakeHarness, out: Path, trace: Trace
) -> None:
    h = _settled(make_harness, out, trace)
    h.path("d").write_text("by hand\n")
    h.commit({"resources/a.yaml": file_doc("a", out / "a", content="v2\n")})
    result = h.sync(trigger="interval")
    assert (result.incremental, h.results(result)) == (
        True,
        {"File//a": "applied", "File//d": "applied"},
    )
    assert sorted(set(trace.observed)) == [f"File//{n}" for n in NAMES]
    assert h.path("d").read_text() == "v1\n"
    assert [e.type.value for e in h.events if e.object_key == "File//d"][-2:] == [
        "DriftDetected",
        "DriftCorrected",
    ]


OTHER = """\
package files.other
import rego.v1

warn contains msg if {
    input.resource.spec.content == ""
    msg := "empty file"
}
"""
OTHER_BINDING = """\
apiVersion: reconciler.dev/v1
kind: PolicyBinding
metadata: {name: no-empty}
spec: {policy: files.other, scope: {kinds: [File], names: [c]}}
"""
