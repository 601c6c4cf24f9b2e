"""What a remediation decision knows of its circumstances: live signals from a real
Prometheus server (the rules weigh the load), the bindings the resource violates, and the
options' declared costs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prometheus_client import Gauge

from tests import gitrepo
from tests.api import live
from tests.workflows import helpers
from tests.workflows.test_metric_trigger import (  # noqa: F401  (load: the fixture)
    load,
    value,
    wait_until,
)
from tests.workflows.test_remediation_decisions import runbook

RULES = """package reconciler.decisions.remediation

import rego.v1

score[o.name] := 0.97 if {
	some o in input.options
	input.context.facts.signals.load < 5
}

score[o.name] := 0.3 if {
	some o in input.options
	input.context.facts.signals.load >= 5
}

reasons[o.name] contains sprintf("load is %v", [input.context.facts.signals.load]) if {
	some o in input.options
}
"""
CHEAP_REGO = """package files.cheap

import rego.v1

deny contains "no cost label" if not input.resource.metadata.labels.cost
"""


def binding(name: str, policy: str, remediation: dict[str, Any] | None) -> str:
    spec: dict[str, Any] = {
        "policy": policy,
        "scope": {"kinds": ["File"]},
        "enforcement": "advisory",
    }
    if remediation:
        spec["remediation"] = remediation
    return json.dumps(
        {
            "apiVersion": "reconciler.dev/v1",
            "kind": "PolicyBinding",
            "metadata": {"name": name},
            "spec": spec,
        }
    )


def test_signals_compliance_scope_and_costs_reach_the_rules(
    tmp_path: Path,
    load: tuple[Gauge, str],  # noqa: F811
) -> None:
    gauge, url = load
    gauge.set(7)
    wait_until(lambda: value(url) == 7.0, "prometheus to scrape the load")
    repo, out, script = tmp_path / "repo", tmp_path / "out", tmp_path / "fix.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)
    settings = (
        "apiVersion: reconciler.dev/v1\nkind: Settings\nmetadata: {name: wf}\n"
        "spec:\n  providers: {File: file}\n  decisions:\n    signals: {load: app_load}\n"
    )
    remediation = {
        "runbook": "label-owner",
        "approval": "confidence",
        "cost": 3,
        "options": [{"workflow": "page", "cost": 1}],
    }
    helpers.make(
        repo,
        {
            "reconciler.yaml": settings,
            "policies/owner.rego": live.OWNER_REGO,
            "policies/cheap.rego": CHEAP_REGO,
            "policies/bindings.yaml": binding("owner", "files.owner", remediation)
            + "\n---\n"
            + binding("cheap", "files.cheap", None),
            "policies/decisions.rego": RULES,
            "runbooks/label-owner.yaml": runbook(script),
            "workflows/page.yaml": helpers.workflow(
                "page", triggers=[{"manual": {}}], steps=[helpers.echo("page")]
            ),
        },
    )
    with helpers.served(tmp_path, repo, prometheus={"url": url, "interval": "1h"}) as running:
        gitrepo.commit(
            repo,
            {"resources/banner.yaml": live.file_doc("banner", path=out / "banner", owner=None)},
        )
        helpers.sync(running)

        def taken() -> bool:
            return running.get("/api/v1/daemon/decisions").json()["decisions"] != []

        running.wait_for(taken, "the remediation decision")
        [entry] = running.get("/api/v1/daemon/decisions").json()["decisions"]
        record = running.get(f"/api/v1/daemon/decisions/{entry['id']}").json()
    facts = record["context"]["facts"]
    assert facts["signals"] == {"load": 7.0}
    assert facts["compliance"] == ["cheap", "owner"]
    assert facts["costs"] == {"runbook:label-owner": 3, "workflow:page": 1}
    assert record["level"] == "human"  # the rules distrust remediating under load
    assert {s["rule"] for s in record["choice"]["scores"]} == {0.3}
    assert record["choice"]["scores"][0]["rule_reasons"] == ["load is 7"]
