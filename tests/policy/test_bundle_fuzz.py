"""Property: whatever Rego, Gatekeeper templates and bindings a revision holds, compiling
its policies and evaluating them over its resources raises nothing: every problem is a
record naming its file, and every evaluation a decision (an `error` outcome at worst)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.clock import SystemClock
from reconciler.policy import bundle as bundles
from reconciler.policy import evaluate
from reconciler.policy.decisions import Outcome
from reconciler.specs import loader
from tests.specs.conftest import MemoryTree

REGO_PIECES = [
    "package p\n",
    "package p.q\n",
    "import rego.v1\n",
    "import future.keywords.in\n",
    "deny contains msg if {\n",
    "deny[msg] {\n",
    'violation[{"msg": msg}] {\n',
    "warn contains msg if {\n",
    "}\n",
    'msg := "x"\n',
    'msg := sprintf("%v", [input.resource.kind])\n',
    'input.resource.kind == "File"\n',
    "x := 1 / 0\n",
    "count(input.resource.spec) > 0\n",
    'crypto.x509.parse_certificates("a")\n',
    'io.jwt.decode("a")\n',
    'net.cidr_contains_matches("10.0.0.0/8", "10.0.0.1")\n',
    "some k in input.resource.spec\n",
    "not input.parameters.allowed\n",
    "default allow := false\n",
    "{",
    "[",
    "(",
    '"',
    "input.review.object.metadata.name\n",
    "data.inventory\n",
]
rego = st.lists(st.sampled_from(REGO_PIECES), max_size=25).map("".join)
BINDING = json.dumps(
    {
        "apiVersion": "reconciler.dev/v1",
        "kind": "PolicyBinding",
        "metadata": {"name": "b"},
        "spec": {"policy": "p", "scope": {"kinds": ["File"]}, "enforcement": "advisory"},
    }
)
TEMPLATE = """apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {{name: k8sfuzz}}
spec:
  crd: {{spec: {{names: {{kind: K8sFuzz}}}}}}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: {rego}
"""
CONSTRAINT = """apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sFuzz
metadata: {name: fuzz}
spec: {match: {kinds: [{apiGroups: ["*"], kinds: ["*"]}]}}
"""
RESOURCE = """apiVersion: reconciler.dev/v1
kind: File
metadata: {name: motd}
spec: {path: /tmp/motd, content: hi}
"""


@settings(max_examples=150, deadline=None)
@given(policy=rego, template_rego=rego, bound=st.booleans(), gatekeeper=st.booleans())
def test_compiling_and_evaluating_any_policy_raises_nothing(
    policy: str, template_rego: str, bound: bool, gatekeeper: bool
) -> None:
    files = {"resources/motd.yaml": RESOURCE.encode(), "policies/p.rego": policy.encode()}
    if bound:
        files["policies/bindings.yaml"] = BINDING.encode()
    if gatekeeper:
        files["policies/template.yaml"] = TEMPLATE.format(rego=json.dumps(template_rego)).encode()
        files["policies/constraint.yaml"] = CONSTRAINT.encode()
    snapshot = loader.load(MemoryTree(files))
    compiled = bundles.compile(snapshot)
    assert all(p.path in files or p.path.startswith("<") for p in compiled.problems), [
        str(p) for p in compiled.problems
    ]
    evaluator = evaluate.Evaluator(compiled, clock=SystemClock(), revision=None)
    for decision in evaluator.evaluate_all(snapshot):
        assert decision.outcome in set(Outcome)
        if decision.outcome is Outcome.ERROR:
            assert decision.messages and all(decision.messages)
