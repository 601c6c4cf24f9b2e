"""The sandbox process: load, compile, evaluate and test the base and head revisions.

Run as `python -m reconciler.simulate.sandbox`, speaking JSON lines (`wire`). A head the
daemon would reject (it does not load or its policies do not compile) ends the work after
loading: nothing the daemon would not do (decisions, tests, a plan) is predicted for it. It
caps its own address space (RLIMIT_AS) and the files it writes, its error output among them
(RLIMIT_FSIZE), first; it clips every string of a section (`bounds`) before sending it; it
gives each stage a fresh CPU-time budget (RLIMIT_CPU soft limit = used + budget: the
kernel stops the process with SIGXCPU past it). Head Rego that recurses without end
overflows regorus' stack and kills the process (SIGSEGV); the parent turns each way of dying
into a message. Nothing in the revisions is executed: Rego is evaluated by the embedded
engine, provider programs are never started.
"""

from __future__ import annotations

import resource
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from reconciler import assets, clock
from reconciler.policy import bundle as bundles
from reconciler.policy import configfiles, testing
from reconciler.providers import registry
from reconciler.simulate import bounds, compare, decide, replay, runbook_checks, wire
from reconciler.simulate.records import Change, TestItem, TestsSection
from reconciler.source import git
from reconciler.source.settings import SourceSettings
from reconciler.specs import loader
from reconciler.specs.snapshot import Snapshot

STAGES = ("load", "decisions", "tests", "replay")


@dataclass(kw_only=True)
class Work:
    """What the stages share."""

    request: dict[str, Any]
    clock: clock.ManualClock
    base: Snapshot | None = None
    head: Snapshot | None = None
    base_bundle: bundles.Bundle | None = None
    head_bundle: bundles.Bundle | None = None
    rejected: bool = False  # the daemon would not load the head: the later stages are moot
    head_files: configfiles.Reader | None = None  # the head's files, for Rego tests


def limit_memory(mib: int) -> None:
    cap = mib * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = cap if hard == resource.RLIM_INFINITY else min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def limit_output(mib: int) -> None:
    """Cap the files this process writes, its error output among them (RLIMIT_FSIZE).

    Python ignores SIGXFSZ, so a write past the cap fails (EFBIG) instead of killing it;
    the caller sees the error output at the cap and says so.
    """
    cap = mib * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    soft = cap if hard == resource.RLIM_INFINITY else min(cap, hard)
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def cpu_budget(seconds: float) -> None:
    """Allow `seconds` more CPU time from now (soft limit; the hard one is left alone)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = int(used + seconds) + 1
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _load(work: Work, out: IO[str], inp: IO[str]) -> None:
    req = work.request
    source = git.GitSource.open(SourceSettings(path=Path(req["repo"]), subpath=req["subpath"]))
    cache = loader.SpecCache()
    base_tree = source.tree(source.resolve(req["base"]))
    head_tree = source.tree(source.resolve(req["head"]))
    base, head = loader.load(base_tree, cache=cache), loader.load(head_tree, cache=cache)
    base_bundle, head_bundle = bundles.compile(base), bundles.compile(head)
    work.base, work.head, work.base_bundle, work.head_bundle = base, head, base_bundle, head_bundle
    work.head_files = configfiles.tree_reader(head_tree)
    base_books = runbook_checks.catalog(base_tree, base)
    head_books = runbook_checks.catalog(head_tree, head)
    head_extra = runbook_checks.problems(head_books)
    section = compare.problems(
        [*base.problems, *base_bundle.problems, *runbook_checks.problems(base_books)],
        [*head.problems, *head_bundle.problems, *head_extra],
    )
    _section(out, "problems", section.model_dump(mode="json"))
    rejection = sorted({*head.problems, *head_bundle.problems})
    if rejection:
        work.rejected = True
        _section(out, "rejection", [compare.item(p).model_dump(mode="json") for p in rejection])
        return
    changes = compare.policies((base, base_bundle), (head, head_bundle))
    _section(out, "policies", [c.model_dump(mode="json") for c in changes])
    found = compare.conflict_items(base_bundle, head_bundle, resources=head.resources)
    _section(out, "conflicts", [c.model_dump(mode="json") for c in found])
    runs = [
        r.model_copy(update={"dry_run": runbook_checks.dry_run(head_books, r.name)})
        if r.kind == "Runbook" and r.change is not Change.REMOVED and not r.problems
        else r
        for r in compare.runs(base, head, head_problems=head_extra)
    ]
    _section(out, "runs", [c.model_dump(mode="json") for c in runs])
    _section(out, "facts", _facts(base, head))


def _facts(base: Snapshot, head: Snapshot) -> dict[str, Any]:
    """What the parent needs to observe, plan and find triggers (all data, no code)."""
    mapping = head.settings.spec.providers
    managed = []
    for doc in head.resources:
        name = registry.provider_name(doc, mapping=mapping)
        if name is not None:
            managed.append({"provider": name, "doc": wire.doc_json(doc)})
    base_mapping = base.settings.spec.providers
    return {
        "managed": managed,
        "baseManaged": [
            d.key
            for d in base.resources
            if registry.provider_name(d, mapping=base_mapping) is not None
        ],
        "prune": head.settings.spec.prune,
        "ignoreDifferences": head.settings.spec.ignore_differences,
        "remediations": {
            doc.name: b.spec.remediation.model_dump(mode="json")
            for doc, b in head.bindings
            if b.spec.remediation is not None
        },
        "workflows": [
            {"name": doc.name, "triggers": doc.body.get("spec", {}).get("triggers") or []}
            for doc, _ in head.workflows
        ],
        "runbooks": [doc.name for doc, _ in head.runbooks],
    }


def _decisions(work: Work, out: IO[str], inp: IO[str]) -> None:
    assert work.head and work.base_bundle and work.head_bundle
    wire.send(out, {"need": "inputs"})
    given = wire.receive(inp).get("inputs") or {}
    inputs = {k: (v.get("observed"), v.get("change")) for k, v in given.items()}
    assert work.base
    base, head = decide.both(
        base=(work.base, work.base_bundle),
        head=(work.head, work.head_bundle),
        inputs=inputs,
        clock=work.clock,
        revision=work.request["head"],
    )
    section = decide.compare(base, head, before=work.base, snapshot=work.head)
    _section(out, "decisions", section.model_dump(mode="json"))


def _tests(work: Work, out: IO[str], inp: IO[str]) -> None:
    assert work.head
    report = testing.run_tests(
        testing.snapshot_modules(work.head),
        data=work.head.data,
        builtin_dir=assets.rego_dir(),
        clock=work.clock,
        files=work.head_files,
    )
    failing = {testing.TestOutcome.FAIL, testing.TestOutcome.ERROR}
    ordered = sorted(report.results, key=lambda r: (r.outcome not in failing, r.path, r.name))
    section = TestsSection(
        counts={o.value.lower(): report.count(o) for o in testing.TestOutcome}
        | {"total": report.total},
        results=tuple(
            TestItem(
                package=r.package,
                name=r.name,
                path=r.path,
                line=r.line,
                outcome=r.outcome.value,
                message=r.message,
            )
            for r in ordered
        ),
    )
    _section(out, "tests", section.model_dump(mode="json"))


def _replay(work: Work, out: IO[str], inp: IO[str]) -> None:
    assert work.head_bundle
    path = work.request.get("store")
    if not path:
        return
    section = replay.replay_log(Path(path), work.head_bundle, clock=work.clock)
    _section(out, "replay", section.model_dump(mode="json"))


def _section(out: IO[str], name: str, value: Any) -> None:
    wire.send(out, {"section": name, "value": bounds.bound(value)})


def _reason(stage: str, exc: Exception) -> str:
    """Why a stage failed; replay says no more than the kind of error, as its inputs hold
    live observed values the head's policies could have put in the error's text."""
    return type(exc).__name__ if stage == "replay" else f"{type(exc).__name__}: {exc}"


_RUN = {"load": _load, "decisions": _decisions, "tests": _tests, "replay": _replay}


def main(inp: IO[str] = sys.stdin, out: IO[str] = sys.stdout) -> int:
    request = wire.receive(inp)
    limit_memory(int(request["memoryMib"]))
    limit_output(int(request["outputMib"]))
    work = Work(request=request, clock=clock.ManualClock(datetime.fromisoformat(request["now"])))
    for stage in STAGES:
        if work.rejected:
            break
        wire.send(out, {"stage": stage})
        cpu_budget(float(request["cpuSeconds"]))
        try:
            _RUN[stage](work, out, inp)
        except MemoryError:
            wire.send(out, {"failed": stage, "reason": "memory"})
            return 1
        except Exception as exc:  # reported as the stage's failure, whatever it was
            wire.send(out, {"failed": stage, "reason": _reason(stage, exc)})
            return 1
    wire.send(out, {"done": True})
    return 0


if __name__ == "__main__":
    sys.exit(main())
