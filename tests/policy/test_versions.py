"""Which Rego syntax a module is read in: imports, pinned folders, then v1 with v0 fallback."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest

from reconciler.clock import ManualClock
from reconciler.errors import Problem
from reconciler.policy import bundle, evaluate, versions
from reconciler.policy.decisions import Outcome
from reconciler.specs import models
from reconciler.specs.models import RegoVersion
from reconciler.specs.snapshot import Snapshot
from tests.policy.conftest import NO_BUILTINS, make_snapshot

# v0, no import, calling the builtin contains(): once refused as "v1" by a keyword sniff.
V0_BUILTIN = """\
package old

deny[msg] {
  contains(input.spec.image, ":latest")
  msg := sprintf("%v uses :latest", [input.metadata.name])
}
"""
# v1 without `import rego.v1` (OPA 1.x, conftest >= 0.60), using contains both ways.
V1_BOTH = """\
package new

deny contains msg if {
  contains(input.spec.image, ":latest")
  msg := sprintf("%v uses :latest", [input.metadata.name])
}
"""
V0_KEYWORDS = """\
package kw
import future.keywords.in

deny[msg] {
  "latest" in input.metadata.labels
  msg := "labelled latest"
}
"""
V1_IMPORT = """\
package imp
import rego.v1

deny contains "always" if true
"""
RESOURCE = json.dumps(
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"tag": "latest"}},
        "spec": {"image": "web:latest"},
    }
)


def binding(policy: str) -> str:
    return json.dumps(
        {
            "apiVersion": "reconciler.dev/v1",
            "kind": "PolicyBinding",
            "metadata": {"name": policy},
            "spec": {"policy": policy, "input": "conftest"},
        }
    )


def pinned(snapshot: Snapshot, folders: dict[str, str]) -> Snapshot:
    settings = models.RepoSettings.model_validate(
        {
            "apiVersion": "reconciler.dev/v1",
            "kind": "Settings",
            "metadata": {"name": "s"},
            "spec": {"regoVersions": folders},
        }
    )
    return dataclasses.replace(snapshot, settings=settings)


def test_both_styles_load_side_by_side_and_decide() -> None:
    files = {
        "policies/old.rego": V0_BUILTIN,
        "policies/new.rego": V1_BOTH,
        "policies/kw.rego": V0_KEYWORDS,
        "policies/imp.rego": V1_IMPORT,
        "policies/b.yaml": "\n---\n".join(binding(p) for p in ("old", "new", "kw", "imp")),
        "resources/web.yaml": RESOURCE,
    }
    snapshot = make_snapshot(files)
    compiled = bundle.compile(snapshot, builtin_dir=NO_BUILTINS)
    assert compiled.problems == ()
    assert {m.path: m.version for m in compiled.modules} == {
        "policies/imp.rego": RegoVersion.V1,
        "policies/kw.rego": RegoVersion.V0,
        "policies/new.rego": RegoVersion.V1,
        "policies/old.rego": RegoVersion.V0,
    }
    clock = ManualClock(datetime(2026, 6, 1, tzinfo=UTC))
    decisions = evaluate.Evaluator(compiled, clock=clock, revision=None).evaluate_all(snapshot)
    assert [(d.policy, d.outcome, d.messages) for d in decisions] == [
        ("old", Outcome.DENY, ("web uses :latest",)),
        ("new", Outcome.DENY, ("web uses :latest",)),
        ("kw", Outcome.DENY, ("labelled latest",)),
        ("imp", Outcome.DENY, ("always",)),
    ]


def test_a_pinned_folder_reads_its_modules_in_that_version_only() -> None:
    snapshot = pinned(
        make_snapshot(
            {
                "policies/strict/old.rego": V0_BUILTIN,
                "policies/old/old.rego": V0_BUILTIN.replace("package old", "package older"),
                "policies/new.rego": V1_BOTH,
            }
        ),
        {"policies/strict": "v1", "policies/old": "v0"},
    )
    compiled = bundle.compile(snapshot, builtin_dir=NO_BUILTINS)
    assert compiled.problems == (
        Problem(
            path="policies/strict/old.rego",
            line=3,
            message="`if` keyword is required before rule body",
        ),
    )
    assert {m.path: m.version for m in compiled.modules} == {
        "policies/new.rego": RegoVersion.V1,
        "policies/old/old.rego": RegoVersion.V0,
    }


def test_imports_outrank_a_pinned_folder() -> None:
    snapshot = pinned(
        make_snapshot({"policies/kw.rego": V0_KEYWORDS, "policies/imp.rego": V1_IMPORT}),
        {"policies": "v1"},
    )
    snapshot = pinned(snapshot, {"policies/": "v0"})
    compiled = bundle.compile(snapshot, builtin_dir=NO_BUILTINS)
    assert compiled.problems == ()
    assert {m.path: m.version for m in compiled.modules} == {
        "policies/imp.rego": RegoVersion.V1,
        "policies/kw.rego": RegoVersion.V0,
    }


def test_a_module_neither_version_reads_reports_the_reading_that_got_further() -> None:
    broken_v0 = V0_BUILTIN + "\nallow {\n  input.x == [1,\n}\n"
    broken_v1 = V1_BOTH + "\nallow if {\n  input.x == [1,\n}\n"
    snapshot = make_snapshot({"policies/a.rego": broken_v0, "policies/b.rego": broken_v1})
    compiled = bundle.compile(snapshot, builtin_dir=NO_BUILTINS)
    assert compiled.problems == (
        # v1 stops at line 3 (no `if`), v0 reaches the real mistake: the v0 error is shown.
        Problem(path="policies/a.rego", line=8, message="expecting }"),
        # v0 stops earlier than v1, which reaches the real mistake.
        Problem(path="policies/b.rego", line=10, message="expecting expression"),
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("package a\nimport rego.v1\n", RegoVersion.V1),
        ("package a\nimport future.keywords.if\nimport future.keywords.in\n", RegoVersion.V0),
        ("package a\nimport future.keywords\n", RegoVersion.V0),
        ("package a\nimport future.keywords\nimport rego.v1\n", RegoVersion.V1),
        ("package a\n# import rego.v1\n", None),
        ('package a\nx := "\\nimport rego.v1"\n', None),
        ('package a\nimport data.lib\ndeny[m] { contains(m, "if") }\n', None),
    ],
)
def test_declared_reads_only_the_imports(text: str, expected: RegoVersion | None) -> None:
    assert versions.declared(text) == expected


def test_configured_takes_the_deepest_folder() -> None:
    folders = {"policies": RegoVersion.V1, "policies/legacy/": RegoVersion.V0}
    assert versions.configured("policies/legacy/a.rego", folders) is RegoVersion.V0
    assert versions.configured("policies/legacyish/a.rego", folders) is RegoVersion.V1
    assert versions.configured("rego/lib.rego", folders) is None
