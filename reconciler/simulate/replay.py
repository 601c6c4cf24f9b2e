"""Replay the recorded decision log under the head's policies: what would flip.

Each logged decision names its binding and the sha256 of the exact input it was made on;
the store keeps those inputs by digest (`Store.put_inputs`) and hands each decision with its
input (`Store.iter_decisions_with_inputs`). A replayed decision uses the
head's binding of the same name (its policy, parameters, scope, enforcement and
exceptions): the input's `parameters` are swapped for the head's, a resource the head's
scope no longer matches counts as allowed. Decisions whose input was not kept, or whose
binding the head removed, are counted and skipped. Results are cached per (binding,
digest): a log holds the same input many times (every reconcile of an unchanged object).

Logged inputs hold live `observed` values, and the head's policies are the pull request's
own: whatever they say could carry those values into a report posted to the forge. So
replay reports outcome changes only: a flip's examples show the messages the decision was
logged with (made by the trusted base policies; an allowed decision has none), never the
messages, print output or evaluation errors of the head's.
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from reconciler.clock import Clock
from reconciler.errors import PolicyError
from reconciler.policy import bindings, gatekeeper, rule_results
from reconciler.policy.bundle import Bundle
from reconciler.policy.decisions import Decision, Outcome
from reconciler.policy.evaluate import canonical
from reconciler.policy.rego import RegoEngine, RegoEvalError
from reconciler.simulate.decide import denies
from reconciler.simulate.records import Flip, FlipExample, ReplaySection
from reconciler.specs import models
from reconciler.specs.models import InputFormat
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore

_EXAMPLES = 3
_RECONCILER_HEAD = '{"change":'


@dataclass(frozen=True, kw_only=True)
class _Head:
    name: str
    spec: models.PolicyBindingSpec
    scope: bindings.ScopeMatcher
    rules: tuple[tuple[str, str], ...]
    params: str
    needs_labels: bool


@dataclass(kw_only=True)
class _Tally:
    count: int = 0
    examples: list[FlipExample] = field(default_factory=list)


Verdict = tuple[bool, tuple[str, ...]]  # (denied at head, messages)


class Replayer:
    """Re-decides logged decisions with one head bundle; use it on one thread only."""

    def __init__(self, bundle: Bundle, *, clock: Clock) -> None:
        self._engine: RegoEngine = bundle.new_engine()
        self._now = clock.now()
        self._heads = {doc.name: _head(doc.name, b.spec, bundle) for doc, b in bundle.bindings}
        self._constraints = {
            c.id: (c, _rules(bundle, bundle.templates[c.kind].package, only="violation"))
            for c in bundle.constraints
        }
        self._cache: dict[tuple[str, str], Verdict] = {}
        self._current: str | None = None
        self._flips: dict[tuple[str, str, str], _Tally] = {}
        self.replayed = self.unchanged = self.missing = self.removed = 0

    def replay(self, logged: Iterable[tuple[Decision, str | None]]) -> None:
        """Re-decide each (decision, its recorded input or None)."""
        for d, text in logged:
            if text is None:
                self.missing += 1
                continue
            verdict = self._cache.get((d.binding, d.input_digest))
            if verdict is None:
                found = self._decide(d, text)
                if found is None:
                    self.removed += 1
                    continue
                verdict = self._cache[(d.binding, d.input_digest)] = found
            self.replayed += 1
            self._count(d, verdict)

    def section(self) -> ReplaySection:
        flips = [
            Flip(
                policy=p, binding=b, direction=direction, count=t.count, examples=tuple(t.examples)
            )
            for (p, b, direction), t in sorted(self._flips.items())
        ]
        return ReplaySection(
            replayed=self.replayed,
            unchanged=self.unchanged,
            missing_inputs=self.missing,
            binding_removed=self.removed,
            flips=tuple(flips),
        )

    def _count(self, d: Decision, verdict: Verdict) -> None:
        before, (after, _) = denies(d), verdict
        if before == after:
            self.unchanged += 1
            return
        direction = "allow->deny" if after else "deny->allow"
        tally = self._flips.setdefault((d.policy, d.binding, direction), _Tally())
        tally.count += 1
        if len(tally.examples) < _EXAMPLES and all(e.key != d.resource.key for e in tally.examples):
            # the logged messages, never the head's: they saw live observed values
            tally.examples.append(
                FlipExample(key=d.resource.key, at=_iso(d.at), messages=d.messages)
            )

    def _decide(self, d: Decision, text: str) -> Verdict | None:
        head = self._heads.get(d.binding)
        if head is not None:
            return self._binding(head, d, text)
        constraint = self._constraints.get(d.binding)
        if constraint is not None:
            return self._constraint(constraint[0], constraint[1], text)
        return None

    def _binding(self, head: _Head, d: Decision, text: str) -> Verdict:
        resource = _resource(text) if head.needs_labels else None
        labels = ((resource or {}).get("metadata") or {}).get("labels") or {}
        ref = d.resource
        subject = bindings.Subject(
            kind=ref.kind,
            group=ref.api_version.rpartition("/")[0],
            namespace=ref.namespace,
            name=ref.name,
            labels=labels,
        )
        if not head.scope.matches(subject):
            return False, ("out of the head binding's scope",)
        outcome, messages, suppressed = self._run(head.rules, _as_input(text, head), slot=d.outcome)
        decision = bindings.decide(
            name=head.name,
            policy=head.spec.policy,
            spec=head.spec,
            subject=subject,
            ref=ref,
            outcome=outcome,
            messages=messages,
            suppressed=suppressed,
            digest=d.input_digest,
            revision=None,
            now=self._now,
        )
        return denies(decision), decision.messages

    def _constraint(
        self, c: gatekeeper.Constraint, rules: tuple[tuple[str, str], ...], text: str
    ) -> Verdict:
        loaded = json.loads(text)
        reviews = loaded if isinstance(loaded, list) else [loaded]
        messages: list[str] = []
        denied = False
        for review in reviews:
            review["parameters"] = c.parameters
            outcome, found, _ = self._run(rules, canonical(review))
            denied = denied or outcome in (Outcome.DENY, Outcome.ERROR)
            messages.extend(found)
        return denied, tuple(sorted(messages))

    def _run(
        self, rules: tuple[tuple[str, str], ...], text: str, *, slot: Outcome = Outcome.DENY
    ) -> tuple[Outcome, tuple[str, ...], tuple[str, ...]]:
        """What the head says about `text` for a logged decision of outcome `slot`: its
        warning for a WARN, else its gate (a policy's deny and warn are logged apart)."""
        if text != self._current:
            self._engine.set_input_json(text)
            self._current = text
        results: dict[str, Any] = {}
        try:
            for name, path in rules:
                raw = self._engine.eval_rule_text(path)
                if raw != "[]":
                    results[name] = json.loads(raw)
        except RegoEvalError as exc:
            return Outcome.ERROR, (str(exc),), ()
        part = rule_results.collect(results).part(slot)
        return part.outcome, part.messages, part.suppressed


def replay_log(
    path: Path, bundle: Bundle, *, clock: Clock, workers: int = 2, batch: int = 5000
) -> ReplaySection:
    """Replay every decision logged in the SQLite store at `path` under `bundle`.

    The log is split over `workers` processes (forked, each with its own engine and its own
    connection, reading every `workers`-th entry); this process replays the first share.
    """
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return _share(path, bundle, clock=clock, shard=0, shards=1, batch=batch)
    ctx = multiprocessing.get_context("fork")
    jobs = []
    for shard in range(1, workers):
        receiver, sender = ctx.Pipe(duplex=False)
        process = ctx.Process(
            target=_worker, args=(path, bundle, clock, shard, workers, batch, sender)
        )
        process.start()
        sender.close()
        jobs.append((process, receiver))
    sections = [_share(path, bundle, clock=clock, shard=0, shards=workers, batch=batch)]
    for process, receiver in jobs:
        try:
            sections.append(receiver.recv())
        except EOFError:
            process.join()
            raise PolicyError(
                f"replay worker {process.pid} died (exit status {process.exitcode})"
            ) from None
        finally:
            receiver.close()
        process.join()
    return merge(sections)


def _share(
    path: Path, bundle: Bundle, *, clock: Clock, shard: int, shards: int, batch: int
) -> ReplaySection:
    store = SqliteStore(path, retention=RetentionSettings())
    try:
        replayer = Replayer(bundle, clock=clock)
        replayer.replay(store.iter_decisions_with_inputs(batch=batch, shard=shard, shards=shards))
        return replayer.section()
    finally:
        store.close()


def _worker(
    path: Path,
    bundle: Bundle,
    clock: Clock,
    shard: int,
    shards: int,
    batch: int,
    sender: Connection,
) -> None:
    section = _share(
        path, bundle.without_engines(), clock=clock, shard=shard, shards=shards, batch=batch
    )
    sender.send(section)
    sender.close()


def merge(sections: Sequence[ReplaySection]) -> ReplaySection:
    """One section from the sections of several shares of a log."""
    flips: dict[tuple[str, str, str], list[Flip]] = {}
    for section in sections:
        for flip in section.flips:
            flips.setdefault((flip.policy, flip.binding, flip.direction), []).append(flip)
    merged = []
    for (policy, binding, direction), parts in sorted(flips.items()):
        examples: list[FlipExample] = []
        for e in sorted((e for f in parts for e in f.examples), key=lambda e: e.at):
            if len(examples) < _EXAMPLES and all(x.key != e.key for x in examples):
                examples.append(e)
        merged.append(
            Flip(
                policy=policy,
                binding=binding,
                direction=direction,
                count=sum(f.count for f in parts),
                examples=tuple(examples),
            )
        )
    return ReplaySection(
        replayed=sum(s.replayed for s in sections),
        unchanged=sum(s.unchanged for s in sections),
        missing_inputs=sum(s.missing_inputs for s in sections),
        binding_removed=sum(s.binding_removed for s in sections),
        flips=tuple(merged),
    )


def _head(name: str, spec: models.PolicyBindingSpec, bundle: Bundle) -> _Head:
    return _Head(
        name=name,
        spec=spec,
        scope=bindings.ScopeMatcher(spec.scope),
        rules=_rules(bundle, spec.policy),
        params=canonical(spec.parameters),
        needs_labels=spec.scope.label_selector is not None or bool(spec.exceptions),
    )


def _rules(bundle: Bundle, package: str, *, only: str | None = None) -> tuple[tuple[str, str], ...]:
    info = bundle.policies.get(package)
    names = [n for n in (info.rules if info else ()) if only is None or n == only]
    return tuple((n, f"data.{package}.{n}") for n in names)


def _resource(text: str) -> dict[str, Any]:
    loaded = json.loads(text)
    if text.startswith(_RECONCILER_HEAD) and isinstance(loaded.get("resource"), dict):
        return dict(loaded["resource"])
    return dict(loaded) if isinstance(loaded, dict) else {}


def _as_input(text: str, head: _Head) -> str:
    """The recorded input in the shape, and with the parameters, the head binding uses."""
    recorded_reconciler = text.startswith(_RECONCILER_HEAD)
    if head.spec.input is InputFormat.CONFTEST:
        return canonical(_resource(text)) if recorded_reconciler else text
    if recorded_reconciler and f'"parameters":{head.params},"resource":' in text:
        return text
    loaded = json.loads(text)
    if not recorded_reconciler:
        loaded = {"change": None, "observed": None, "resource": loaded, "revision": None}
    loaded["parameters"] = json.loads(head.params)
    return canonical(loaded)


def _iso(moment: datetime) -> str:
    return moment.isoformat()
