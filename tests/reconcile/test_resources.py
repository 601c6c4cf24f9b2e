"""The per-object chain, one sub-step per row: real policies (regorus), real providers.

Every row builds an `ObjectWork` from a snapshot loaded from a directory, runs it, turns the
outcome into a status with `records.status_after` and compares the whole condition list.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from reconciler.clock import ManualClock
from reconciler.conditions import Condition, ConditionStatus
from reconciler.plan import planner
from reconciler.policy import bundle as bundles
from reconciler.policy.decisions import Action as GateAction
from reconciler.policy.evaluate import Evaluator
from reconciler.providers import base
from reconciler.providers.exec import ExecProvider
from reconciler.providers.file import FileProvider
from reconciler.reconcile import records, resources
from reconciler.source.tree import DirectoryTree
from reconciler.specs import loader
from reconciler.specs.snapshot import Document, Snapshot

REVISION = "r1"
START = datetime(2026, 1, 1, tzinfo=UTC)
DEADLINE = "2026-06-01T00:00:00Z"

POLICY = """\
package files.mode
import rego.v1

deny contains msg if {
    input.resource.spec.mode == "0777"
    msg := sprintf("%s: mode 0777 is not allowed", [input.resource.metadata.name])
}
"""

FAIL_PROGRAM = """\
import json, sys
request = json.load(sys.stdin)
if request["action"] == "observe":
    print(json.dumps({"observed": None}))
else:
    print(json.dumps({"error": "the service refused the change"}))
"""

SLOW_PROGRAM = """\
import json, sys, time
request = json.load(sys.stdin)
if request["action"] == "observe":
    print(json.dumps({"observed": None}))
else:
    time.sleep(30)
"""


def binding(name: str, enforcement: str, extra: str = "") -> str:
    return (
        textwrap.dedent(f"""\
        apiVersion: reconciler.dev/v1
        kind: PolicyBinding
        metadata: {{name: {name}}}
        spec:
          policy: files.mode
          scope: {{kinds: [File], names: ["{name}-*"]}}
          enforcement: {enforcement}
        """)
        + extra
    )


def file_doc(name: str, path: Path, mode: str = "0644", content: str = "new\n") -> str:
    return (
        "apiVersion: reconciler.dev/v1\nkind: File\n"
        f"metadata: {{name: {name}}}\n"
        f'spec: {{path: {path}, content: {json.dumps(content)}, mode: "{mode}"}}\n'
    )


def exec_doc(name: str, program: Path) -> str:
    return (
        "apiVersion: reconciler.dev/v1\nkind: ExecResource\n"
        f"metadata: {{name: {name}}}\n"
        f"spec: {{provider: {program}, desired: {{port: 8080}}}}\n"
    )


@dataclass
class World:
    root: Path
    out: Path
    snapshot: Snapshot
    clock: ManualClock
    evaluator: Evaluator
    providers: dict[str, base.Provider]

    def doc(self, name: str) -> Document:
        return next(d for d in self.snapshot.resources if d.name == name)


@pytest.fixture
def world(tmp_path: Path) -> World:
    repo, out = tmp_path / "repo", tmp_path / "out"
    out.mkdir()
    (repo / "policies").mkdir(parents=True)
    (repo / "resources").mkdir()
    (repo / "policies" / "mode.rego").write_text(POLICY)
    gradual = f'  gradual: {{deadline: "{DEADLINE}"}}\n'
    (repo / "policies" / "bindings.yaml").write_text(
        "---\n".join(
            [
                binding("strict", "strict"),
                binding("advisory", "advisory"),
                binding("gradual", "gradual", gradual),
                binding("monitor", "monitor"),
            ]
        )
    )
    (tmp_path / "fail.py").write_text(FAIL_PROGRAM)
    (tmp_path / "slow.py").write_text(SLOW_PROGRAM)
    names = ["plain", "strict-x", "advisory-x", "gradual-x", "monitor-x"]
    docs = [file_doc(n, out / n, mode="0777" if "-" in n else "0644") for n in names]
    docs.append(exec_doc("failing", tmp_path / "fail.py"))
    docs.append(exec_doc("slow", tmp_path / "slow.py"))
    (repo / "resources" / "all.yaml").write_text("---\n".join(docs))
    snapshot = loader.load(DirectoryTree(repo))
    assert snapshot.ok, snapshot.problems
    bundle = bundles.compile(snapshot)
    assert not bundle.problems, bundle.problems
    clock = ManualClock(START)
    roots = base.FileSettings(roots=(out.resolve(),))
    settings = base.ProviderSettings(repository_dir=repo, file=roots)
    impatient = base.ProviderSettings(repository_dir=repo, exec=base.ExecSettings(timeout=0.3))
    return World(
        root=tmp_path,
        out=out,
        snapshot=snapshot,
        clock=clock,
        evaluator=Evaluator(bundle, clock=clock, revision=REVISION),
        providers={
            "file": FileProvider(settings),
            "exec": ExecProvider(settings),
            "slow": ExecProvider(impatient),
        },
    )


@dataclass(frozen=True)
class Row:
    """One sub-step: the object, what is on disk before, the step's flags, what follows."""

    name: str
    obj: str
    on_disk: str | None  # content of the file before the step (None: absent)
    result: resources.Result
    conditions: Callable[[World], list[tuple[str, str, str, str]]]
    step: dict[str, Any] = field(default_factory=dict)
    after: float = 0  # seconds the clock moves before the step
    decision: GateAction | None = None
    file_after: str | None = None


def ready(message: str = f"applied revision {REVISION}") -> tuple[str, str, str, str]:
    return ("Ready", "True", "Succeeded", message)


def denied(name: str) -> list[tuple[str, str, str, str]]:
    message = f"files.mode: {name}: mode 0777 is not allowed"
    return [
        ("PolicyDenied", "True", "DeniedByPolicy", message),
        ("Ready", "False", "DeniedByPolicy", message),
    ]


def drifted() -> list[tuple[str, str, str, str]]:
    message = "changed outside Git: spec.content"
    return [
        ("Drifted", "True", "DriftDetected", message),
        ("Ready", "False", "DriftDetected", message),
    ]


def failed(reason: str, message: str) -> list[tuple[str, str, str, str]]:
    return [("ApplyFailed", "True", reason, message), ("Ready", "False", reason, message)]


ROWS = [
    Row("noop", "plain", "new\n", resources.Result.UNCHANGED, lambda w: [ready()]),
    Row("create", "plain", None, resources.Result.APPLIED, lambda w: [ready()], file_after="new\n"),
    Row(
        "update",
        "plain",
        "old\n",
        resources.Result.APPLIED,
        lambda w: [ready()],
        file_after="new\n",
    ),
    Row(
        "drift healed",
        "plain",
        "by hand\n",
        resources.Result.APPLIED,
        lambda w: [ready()],
        step={"drifted": True},
        file_after="new\n",
    ),
    Row(
        "drift reported",
        "plain",
        "by hand\n",
        resources.Result.DRIFT_REPORTED,
        lambda w: drifted(),
        step={"drifted": True, "self_heal": False},
        file_after="by hand\n",
    ),
    Row(
        "dependency not ready",
        "plain",
        "old\n",
        resources.Result.WAITING,
        lambda w: [
            ("Ready", "False", "DependencyNotReady", "waiting for File//base, which is not ready")
        ],
        step={"blocked_dependency": "File//base"},
        file_after="old\n",
    ),
    Row(
        "backing off",
        "plain",
        "old\n",
        resources.Result.BACKING_OFF,
        lambda w: [("Ready", "False", "Progressing", "backing off after failures")],
        step={"backing_off": True},
        file_after="old\n",
    ),
    Row(
        "strict deny",
        "strict-x",
        "old\n",
        resources.Result.BLOCKED,
        lambda w: denied("strict-x"),
        decision=GateAction.BLOCKED,
        file_after="old\n",
    ),
    Row(
        "advisory deny",
        "advisory-x",
        "old\n",
        resources.Result.APPLIED,
        lambda w: [ready()],
        decision=GateAction.WARNED,
        file_after="new\n",
    ),
    Row(
        "gradual before deadline",
        "gradual-x",
        "old\n",
        resources.Result.APPLIED,
        lambda w: [ready()],
        decision=GateAction.WARNED,
        file_after="new\n",
    ),
    Row(
        "gradual after deadline",
        "gradual-x",
        "old\n",
        resources.Result.BLOCKED,
        lambda w: denied("gradual-x"),
        after=200 * 86400,
        decision=GateAction.BLOCKED,
        file_after="old\n",
    ),
    Row(
        "monitor",
        "monitor-x",
        "old\n",
        resources.Result.APPLIED,
        lambda w: [ready()],
        decision=GateAction.RECORDED,
        file_after="new\n",
    ),
    Row(
        "provider error",
        "failing",
        None,
        resources.Result.FAILED,
        lambda w: failed(
            "ProviderError",
            f"exec provider: ExecResource//failing: {w.root / 'fail.py'} failed "
            "during apply: the service refused the change",
        ),
    ),
    Row(
        "provider timeout",
        "slow",
        None,
        resources.Result.FAILED,
        lambda w: failed(
            "ProviderTimeout",
            f"exec provider: ExecResource//slow: {w.root / 'slow.py'} timed out "
            "after 0.3s during apply; its process group was killed",
        ),
    ),
]


def run_row(world: World, row: Row) -> tuple[resources.Outcome, list[Condition]]:
    doc = world.doc(row.obj)
    kind = "file" if doc.kind == "File" else "slow" if doc.name == "slow" else "exec"
    provider = world.providers[kind]
    target = world.out / row.obj
    if row.on_disk is not None:
        target.write_text(row.on_disk)
        target.chmod(0o777 if "-" in row.obj else 0o644)
    world.clock.advance(row.after)
    observed = provider.observe(doc)
    change = planner.plan(
        desired={doc.key: doc.body},
        observed={doc.key: provider.normalise(doc.body, observed) if observed else None},
        inventory=set(),
        prune=False,
    ).changes[0]
    flags: dict[str, Any] = {
        "drifted": False,
        "self_heal": True,
        "backing_off": False,
        "blocked_dependency": None,
        **row.step,
    }
    step = resources.ObjectWork(
        doc=doc,
        change=change,
        provider=provider,
        revision=REVISION,
        now=world.clock.now(),
        evaluator=world.evaluator,
        **flags,
    )
    outcome = resources.run(step)
    status = records.status_after(
        prev=None,
        doc=doc,
        outcome=outcome,
        change=change,
        source="main",
        revision=REVISION,
        at=world.clock.now(),
    )
    return outcome, list(status.conditions)


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_each_sub_step_leaves_the_whole_condition_list(world: World, row: Row) -> None:
    outcome, conditions = run_row(world, row)
    now = world.clock.now()
    assert outcome.result is row.result
    assert conditions == [
        Condition(
            type=t,
            status=ConditionStatus(s),
            reason=r,
            message=m,
            observed_revision=REVISION,
            last_transition_time=now,
        )
        for t, s, r, m in row.conditions(world)
    ]
    if row.decision is not None:
        assert [(d.binding, d.action_taken) for d in outcome.decisions] == [
            (row.obj.split("-")[0], row.decision)
        ]
    if row.file_after is not None:
        assert (world.out / row.obj).read_text() == row.file_after


def test_a_noop_evaluates_no_policy_and_records_no_decision(world: World) -> None:
    outcome, _ = run_row(world, ROWS[0])
    assert outcome.decisions == ()
    assert outcome.drifted is False


def test_a_healed_drift_is_flagged_for_the_drift_event(world: World) -> None:
    outcome, _ = run_row(world, ROWS[3])
    assert (outcome.drifted, outcome.message) == (True, "updated")


def test_a_failed_heal_keeps_both_the_drift_and_the_failure(world: World) -> None:
    row = Row(
        "heal fails", "failing", None, resources.Result.FAILED, lambda w: [], step={"drifted": True}
    )
    outcome, conditions = run_row(world, row)
    assert outcome.drifted is True
    assert [(c.type, c.reason, c.message) for c in conditions] == [
        (
            "ApplyFailed",
            "ProviderError",
            f"exec provider: ExecResource//failing: {world.root / 'fail.py'} failed during apply: "
            "the service refused the change",
        ),
        ("Drifted", "DriftDetected", "object is missing"),
        (
            "Ready",
            "ProviderError",
            f"exec provider: ExecResource//failing: {world.root / 'fail.py'} failed during apply: "
            "the service refused the change",
        ),
    ]
