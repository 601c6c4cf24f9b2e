"""`data.inventory` for templates that read it: the repository's resources laid out as
Gatekeeper lays out synced objects (`namespace[ns][apiVersion][kind][name]`,
`cluster[apiVersion][kind][name]`)."""

from __future__ import annotations

import json

from reconciler.clock import ManualClock
from reconciler.policy import bundle, evaluate, gatekeeper
from reconciler.policy.decisions import Outcome
from tests.policy.conftest import NO_BUILTINS, documents, make_snapshot

UNIQUE_HOST = """\
package k8suniquehost

violation[{"msg": msg}] {
  host := input.review.object.spec.rules[_].host
  other := data.inventory.namespace[ns][_]["Ingress"][name]
  not same(ns, name)
  other.spec.rules[_].host == host
  msg := sprintf("host %v is also used by Ingress %v/%v", [host, ns, name])
}

violation[{"msg": msg}] {
  class := input.review.object.spec.ingressClassName
  not data.inventory.cluster["networking.k8s.io/v1"].IngressClass[class]
  msg := sprintf("IngressClass %v is not defined", [class])
}

same(ns, name) {
  ns == input.review.object.metadata.namespace
  name == input.review.object.metadata.name
}
"""


def template(rego: str) -> str:
    body = {
        "apiVersion": "templates.gatekeeper.sh/v1",
        "kind": "ConstraintTemplate",
        "metadata": {"name": "k8suniquehost"},
        "spec": {
            "crd": {"spec": {"names": {"kind": "K8sUniqueHost"}}},
            "targets": [{"target": "admission.k8s.gatekeeper.sh", "rego": rego}],
        },
    }
    return json.dumps(body)


CONSTRAINT = json.dumps(
    {
        "apiVersion": "constraints.gatekeeper.sh/v1beta1",
        "kind": "K8sUniqueHost",
        "metadata": {"name": "unique-host"},
        "spec": {"match": {"kinds": [{"apiGroups": ["networking.k8s.io"], "kinds": ["Ingress"]}]}},
    }
)


def ingress(name: str, namespace: str, host: str, ingress_class: str | None = None) -> str:
    spec: dict[str, object] = {"rules": [{"host": host}]}
    if ingress_class is not None:
        spec["ingressClassName"] = ingress_class
    return json.dumps(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        }
    )


NGINX_CLASS = json.dumps(
    {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "nginx"}}
)


def test_templates_reading_the_inventory_see_the_repository_resources() -> None:
    files = {
        "policies/template.yaml": template(UNIQUE_HOST),
        "policies/constraint.yaml": CONSTRAINT,
        "resources/class.yaml": NGINX_CLASS,
        "resources/shop.yaml": ingress("web", "shop", "shop.example.com", "nginx"),
        "resources/blog.yaml": ingress("web", "blog", "shop.example.com", "traefik"),
        "resources/docs.yaml": ingress("docs", "docs", "docs.example.com"),
    }
    snapshot = make_snapshot(files)
    compiled = bundle.compile(snapshot, builtin_dir=NO_BUILTINS)
    assert compiled.problems == ()
    decisions = evaluate.Evaluator(compiled, clock=ManualClock(), revision=None).evaluate_all(
        snapshot
    )
    assert [(d.resource.key, d.outcome, d.messages) for d in decisions] == [
        (
            "Ingress/blog/web",
            Outcome.DENY,
            (
                "IngressClass traefik is not defined",
                "host shop.example.com is also used by Ingress shop/web",
            ),
        ),
        ("Ingress/docs/docs", Outcome.ALLOW, ()),
        (
            "Ingress/shop/web",
            Outcome.DENY,
            ("host shop.example.com is also used by Ingress blog/web",),
        ),
    ]


def test_the_inventory_is_only_added_for_templates_that_read_it() -> None:
    plain = UNIQUE_HOST.replace("data.inventory", "data.elsewhere")
    files = {
        "policies/template.yaml": template(plain),
        "policies/constraint.yaml": CONSTRAINT,
        "resources/shop.yaml": ingress("web", "shop", "shop.example.com"),
    }
    compiled = bundle.compile(make_snapshot(files), builtin_dir=NO_BUILTINS)
    assert compiled.data == {}


def test_the_repository_data_may_define_inventory_itself() -> None:
    files = {
        "policies/template.yaml": template(UNIQUE_HOST),
        "data/inventory.yaml": json.dumps({"inventory": {"cluster": {}, "namespace": {}}}),
        "resources/shop.yaml": ingress("web", "shop", "shop.example.com"),
    }
    compiled = bundle.compile(make_snapshot(files), builtin_dir=NO_BUILTINS)
    assert compiled.data == {"inventory": {"cluster": {}, "namespace": {}}}


def test_inventory_layout() -> None:
    docs = [
        *documents("resources/class.yaml", NGINX_CLASS),
        *documents("resources/shop.yaml", ingress("web", "shop", "shop.example.com")),
    ]
    assert gatekeeper.inventory(docs) == {
        "cluster": {"networking.k8s.io/v1": {"IngressClass": {"nginx": docs[0].body}}},
        "namespace": {"shop": {"networking.k8s.io/v1": {"Ingress": {"web": docs[1].body}}}},
    }
