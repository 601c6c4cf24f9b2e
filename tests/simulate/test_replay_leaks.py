"""Replaying the decision log hands a pull request's policies the logged inputs, live
`observed` values included: the report shows what flipped, never the head's messages."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from reconciler.policy import bundle as bundles
from reconciler.policy.evaluate import Evaluator, canonical
from reconciler.simulate import details, markdown
from reconciler.simulate.records import FlipExample
from reconciler.source.tree import DirectoryTree
from reconciler.specs import loader
from reconciler.store.interfaces import Store
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore
from tests.simulate.conftest import FixedNow, PullRequest

SECRET = "live-db-password-7f3a"
LEAKY = """\
package k8s.replicas

import rego.v1

deny contains msg if {
	msg := sprintf("observed: %v", [input.observed])
}

deny contains msg if {
	msg := sprintf("%v", [to_number(input.observed.data.password)])
}
"""


def log_with_observed(store: Store, repo: Path, *, revision: str, binding: str) -> int:
    """Log `binding`'s decisions as the daemon would, each input carrying a live observed
    value; returns how many were logged."""
    snap = loader.load(DirectoryTree(repo))
    compiled = bundles.compile(snap)
    evaluator = Evaluator(compiled, clock=FixedNow(), revision=revision)
    spec = next(b.spec for doc, b in compiled.bindings if doc.name == binding)
    logged = []
    for doc in snap.resources:
        for d in evaluator.evaluate(doc):
            if d.binding != binding:
                continue
            text = canonical(
                {
                    "change": None,
                    "observed": {"data": {"password": SECRET}},
                    "parameters": spec.parameters,
                    "resource": doc.body,
                    "revision": revision,
                }
            )
            digest = hashlib.sha256(text.encode()).hexdigest()
            store.put_inputs({digest: text})
            logged.append(dataclasses.replace(d, input_digest=digest))
    return store.append_decisions(logged)


def test_head_policies_cannot_copy_observed_values_into_the_replay_report(
    pr: PullRequest, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    store = SqliteStore(data / "reconciler.db", retention=RetentionSettings())
    logged = log_with_observed(store, pr.repo, revision=pr.base, binding="replica-bounds")
    store.close()
    pr.change({"policies/k8s/replicas.rego": LEAKY})
    report = pr.simulate(data_dir=data)
    assert report.replay is not None
    assert report.replay.replayed == logged
    allow_to_deny = [f for f in report.replay.flips if f.direction == "allow->deny"]
    assert [(f.binding, f.count) for f in allow_to_deny] == [("replica-bounds", logged - 1)]
    # an allowed decision logged no messages: the example shows the outcome change alone
    assert {e.messages for e in allow_to_deny[0].examples} == {()}
    assert SECRET not in report.model_dump_json()
    assert SECRET not in "".join(markdown.render(report, details.sections(report)))


def test_a_deny_that_becomes_an_allow_shows_the_messages_the_base_logged(
    pr: PullRequest, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    store = SqliteStore(data / "reconciler.db", retention=RetentionSettings())
    log_with_observed(store, pr.repo, revision=pr.base, binding="replica-bounds")
    store.close()
    bindings = (pr.repo / "policies/bindings.yaml").read_text()
    pr.change({"policies/bindings.yaml": bindings.replace("    min: 2\n", "    min: 1\n")})
    report = pr.simulate(data_dir=data)
    assert report.replay is not None
    assert [
        (f.direction, f.examples) for f in report.replay.flips if f.binding == "replica-bounds"
    ] == [
        (
            "deny->allow",
            (
                FlipExample(
                    key="Deployment/storefront/storefront-web",
                    at="2026-06-01T00:00:00+00:00",
                    messages=(
                        "Deployment storefront/storefront-web runs 1 replica(s); at least 2 "
                        "are expected",
                    ),
                ),
            ),
        )
    ]
