"""Evaluate a large revision on several processes (`eval`, and what else evaluates every
resource of a revision from a single-threaded process).

Evaluation holds the GIL, so threads give nothing; processes do (`forking.fork_map`). Each
forked worker builds its engines once from the bundle's sources (an engine may not cross a
fork) and evaluates chunks of resources it inherited through the fork; the caller evaluates
chunks too, with its own engine. A worker sends each chunk's decisions back as compact JSON
(`encode`: a resource's reference and time once, then one short row per decision) rather
than pickled records, which measured about a third of the evaluation's own cost to pickle
and unpickle; `decode` rebuilds the `Decision`s. Revisions with fewer than
`MIN_RESOURCES` resources are evaluated in the calling process: forking would cost more.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from reconciler.clock import Clock
from reconciler.forking import Codec, fork_map
from reconciler.policy.bundle import Bundle
from reconciler.policy.decisions import Action, Decision, Outcome, ResourceRef
from reconciler.policy.evaluate import Evaluator
from reconciler.specs.models import Enforcement
from reconciler.specs.snapshot import Document, Snapshot

MIN_RESOURCES = 500
CHUNKS_PER_WORKER = 16
"""Chunks each process takes, on average: enough that the last one to finish waits little."""

_OUTCOMES = {o.value: o for o in Outcome}
_ACTIONS = {a.value: a for a in Action}
_ENFORCEMENTS = {e.value: e for e in Enforcement}


def evaluate_parallel(
    snapshot: Snapshot,
    bundle: Bundle,
    *,
    clock: Clock,
    workers: int = 2,
    revision: str | None = None,
) -> list[Decision]:
    """`Evaluator.evaluate_all` split over `workers` processes; same decisions, same order."""
    resources = snapshot.resources
    if len(resources) < MIN_RESOURCES:
        workers = 1
    return fork_map(
        resources,
        _evaluating(bundle, clock=clock, revision=revision),
        workers=workers,
        in_child=_evaluating(bundle.without_engines(), clock=clock, revision=revision),
        chunk=-(-len(resources) // (max(workers, 1) * CHUNKS_PER_WORKER)),
        codec=Codec(encode=encode, decode=decode),
    )


def _evaluating(
    bundle: Bundle, *, clock: Clock, revision: str | None
) -> Callable[[Sequence[Document]], list[Decision]]:
    """Evaluates chunks with one `Evaluator`, built by the process at its first chunk."""
    built: list[Evaluator] = []

    def run(resources: Sequence[Document]) -> list[Decision]:
        if not built:
            built.append(Evaluator(bundle, clock=clock, revision=revision))
        evaluator = built[0]
        return [d for resource in resources for d in evaluator.evaluate_document(resource)]

    return run


def encode(decisions: list[Decision]) -> bytes:
    """Compact JSON of `decisions`: runs sharing a resource, time and revision grouped."""
    groups: list[list[Any]] = []
    last: tuple[ResourceRef, datetime, str | None] | None = None
    rows: list[list[Any]] = []
    for d in decisions:
        key = (d.resource, d.at, d.revision)
        if key != last:
            r = d.resource
            rows = []
            ref = [r.api_version, r.kind, r.namespace, r.name, r.path]
            groups.append([ref, d.at.isoformat(), d.revision, rows])
            last = key
        rows.append(
            [
                d.policy,
                d.binding,
                d.outcome.value,
                d.messages,
                d.enforcement.value,
                d.action_taken.value,
                d.input_digest,
                d.explanation,
            ]
        )
    return json.dumps(groups, separators=(",", ":")).encode()


def decode(blob: bytes) -> list[Decision]:
    """The decisions `encode` wrote, equal to the ones it was given."""
    out: list[Decision] = []
    for ref, at, revision, rows in json.loads(blob):
        resource = ResourceRef(
            api_version=ref[0], kind=ref[1], namespace=ref[2], name=ref[3], path=ref[4]
        )
        when = datetime.fromisoformat(at)
        out.extend(
            Decision(
                policy=policy,
                binding=binding,
                resource=resource,
                outcome=_OUTCOMES[outcome],
                messages=tuple(messages),
                enforcement=_ENFORCEMENTS[enforcement],
                action_taken=_ACTIONS[action],
                revision=revision,
                input_digest=digest,
                explanation=explanation,
                at=when,
            )
            for policy, binding, outcome, messages, enforcement, action, digest, explanation in rows
        )
    return out
