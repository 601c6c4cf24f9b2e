"""ConstraintTemplates in both formats: Rego in `spec.targets[].rego`/`libs`, or in a
`code[]` entry with `engine: Rego` beside CEL; CEL-only and malformed templates get a
problem naming the key, and `reconciler test` loads the Rego of either format."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.clock import ManualClock
from reconciler.policy import bundle, evaluate, testing
from reconciler.policy.decisions import Outcome
from tests.policy.conftest import NO_BUILTINS, make_snapshot

V0_REGO = """\
package k8shostnetwork

import data.lib.exclude_update.is_update

violation[{"msg": msg}] {
  not is_update(input.review)
  input.review.object.spec.hostNetwork
  msg := sprintf("host network is not allowed: %v", [input.review.object.metadata.name])
}
"""
V1_REGO = """\
package k8shostnetwork

violation contains {"msg": msg} if {
  input.review.object.spec.hostNetwork
  msg := sprintf("host network is not allowed: %v", [input.review.object.metadata.name])
}
"""
LIB = """\
package lib.exclude_update

is_update(review) {
  review.operation == "UPDATE"
}
"""
CEL = {
    "engine": "K8sNativeValidation",
    "source": {"validations": [{"expression": "!object.spec.hostNetwork"}]},
}


def template(target: dict[str, Any]) -> str:
    body = {
        "apiVersion": "templates.gatekeeper.sh/v1",
        "kind": "ConstraintTemplate",
        "metadata": {"name": "k8shostnetwork"},
        "spec": {
            "crd": {"spec": {"names": {"kind": "K8sHostNetwork"}}},
            "targets": [{"target": "admission.k8s.gatekeeper.sh", **target}],
        },
    }
    return "# a template\n" + json.dumps(body)


def code(source: dict[str, Any]) -> dict[str, Any]:
    return {"code": [CEL, {"engine": "Rego", "source": source}]}


CONSTRAINT = json.dumps(
    {
        "apiVersion": "constraints.gatekeeper.sh/v1beta1",
        "kind": "K8sHostNetwork",
        "metadata": {"name": "no-host-network"},
        "spec": {"match": {"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]}},
    }
)
POD = json.dumps(
    {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "sniffer"},
        "spec": {"hostNetwork": True, "containers": [{"name": "c", "image": "busybox"}]},
    }
)


def compiled(target: dict[str, Any]) -> bundle.Bundle:
    files = {
        "policies/template.yaml": template(target),
        "policies/constraint.yaml": CONSTRAINT,
        "resources/pod.yaml": POD,
    }
    return bundle.compile(make_snapshot(files), builtin_dir=NO_BUILTINS)


def problems(target: dict[str, Any]) -> list[str]:
    return [str(p) for p in compiled(target).problems]


FORMATS = {
    "rego and libs": {"rego": V0_REGO, "libs": [LIB]},
    "code entry beside CEL": code({"rego": V0_REGO, "libs": [LIB]}),
    "code entry, version v0": code({"version": "v0", "rego": V0_REGO, "libs": [LIB]}),
    "code entry, version v1": code({"version": "v1", "rego": V1_REGO}),
    "code entry wins over rego": {
        "rego": "package other\n",
        **code({"rego": V0_REGO, "libs": [LIB]}),
    },
}


@pytest.mark.parametrize("target", FORMATS.values(), ids=FORMATS.keys())
def test_either_format_reviews_the_pod(target: dict[str, Any]) -> None:
    files = {
        "policies/template.yaml": template(target),
        "policies/constraint.yaml": CONSTRAINT,
        "resources/pod.yaml": POD,
    }
    snapshot = make_snapshot(files)
    built = bundle.compile(snapshot, builtin_dir=NO_BUILTINS)
    assert built.problems == ()
    [decision] = evaluate.Evaluator(built, clock=ManualClock(), revision=None).evaluate_all(
        snapshot
    )
    assert (decision.binding, decision.outcome, decision.messages) == (
        "K8sHostNetwork/no-host-network",
        Outcome.DENY,
        ("host network is not allowed: sniffer",),
    )


NO_TEMPLATE = (
    'policies/constraint.yaml:1 kind: the ConstraintTemplate of kind "K8sHostNetwork"'
    " (policies/template.yaml:2) has a problem"
)
BAD = {
    "CEL only": (
        {"code": [CEL]},
        "spec.targets[0].code: CEL (K8sNativeValidation) is not supported;"
        " add a Rego code entry (engine: Rego)",
    ),
    "no engine known": (
        {"code": [{"engine": "Wasm", "source": {}}]},
        "spec.targets[0].code: has no entry with engine: Rego (engines: 'Wasm')",
    ),
    "neither": ({}, "spec.targets[0]: must have rego, or a code entry with engine: Rego"),
    "code not a list": (
        {"code": {"engine": "Rego"}},
        "spec.targets[0].code: must be a list of code entries",
    ),
    "no source": (
        {"code": [CEL, {"engine": "Rego"}]},
        "spec.targets[0].code[1].source: must be a mapping with rego and libs",
    ),
    "no package": (
        code({"rego": "violation[x] { x := 1 }"}),
        "spec.targets[0].code[1].source.rego: must be a Rego module with a package",
    ),
    "libs not strings": (
        code({"rego": V0_REGO, "libs": [{"rego": LIB}]}),
        "spec.targets[0].code[1].source.libs: must be a list of Rego modules",
    ),
    "unknown version": (
        code({"rego": V0_REGO, "version": "v2"}),
        "spec.targets[0].code[1].source.version: must be v0 or v1, not 'v2'",
    ),
}


@pytest.mark.parametrize(("target", "message"), BAD.values(), ids=BAD.keys())
def test_a_template_without_usable_rego_is_a_problem(target: dict[str, Any], message: str) -> None:
    assert problems(target) == [f"policies/template.yaml:2 {message}", NO_TEMPLATE]


def test_rego_that_does_not_compile_is_reported_at_its_code_entry() -> None:
    target = code({"rego": V0_REGO.replace("hostNetwork\n", "hostNetwork ==\n"), "libs": [LIB]})
    assert problems(target) == [
        "policies/template.yaml:2 spec.targets[0].code[1].source.rego:"
        " line 8 of the Rego: expecting `}` while parsing query"
    ]


def test_a_v0_lib_in_a_v1_entry_is_reported_at_the_lib() -> None:
    target = code({"version": "v1", "rego": V1_REGO, "libs": [LIB]})
    assert problems(target) == [
        "policies/template.yaml:2 spec.targets[0].code[1].source.libs[0]:"
        " line 3 of the Rego: `if` keyword is required before rule body"
    ]


def test_reconciler_test_loads_the_rego_of_both_formats() -> None:
    snapshot = make_snapshot(
        {
            "policies/a.yaml": template({"rego": V0_REGO, "libs": [LIB]}),
            "policies/b.yaml": template(code({"rego": V0_REGO, "libs": [LIB]})),
            "policies/c.yaml": template({"code": [CEL]}),
        }
    )
    modules = testing.template_modules(snapshot.constraint_templates)
    assert [(m.path, m.text) for m in modules] == [
        ("policies/a.yaml#spec.targets[0].rego", V0_REGO),
        ("policies/a.yaml#spec.targets[0].libs[0]", LIB),
        ("policies/b.yaml#spec.targets[0].code[1].source.rego", V0_REGO),
        ("policies/b.yaml#spec.targets[0].code[1].source.libs[0]", LIB),
    ]
