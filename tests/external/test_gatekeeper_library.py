"""The gatekeeper-library's own test suites, checked the way `gator verify` checks them.

Each case of every `suite.yaml` under `../shared/corpora/gatekeeper-library/` becomes a
repository laid out as a user would: the template and the constraint under `policies/`,
the case's object (and any inventory objects) under `resources/`, all copied unchanged.
`reconciler eval --format json` runs on it and the suite's assertions are checked on the
constraint's decision: `violations: yes/no/N`, counted over the messages matching
`message` (a regex) when it is given. A case whose object is an `AdmissionReview` (an
UPDATE of an object that already exists) goes through `eval` too, which evaluates the
review it records, as gator does. At the end of the session the pass counts are printed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import gitrepo
from tests.conftest import SHARED

LIBRARY = Path("corpora") / "gatekeeper-library" / "library"
OBJECT = "resources/object.yaml"  # the case's object; inventory objects sit beside it


@dataclass(frozen=True, kw_only=True)
class Case:
    suite: Path  # the suite's folder, relative to LIBRARY
    test: str
    name: str
    template: str
    constraint: str
    object: str
    inventory: tuple[str, ...]
    assertions: tuple[dict[str, Any], ...]

    @property
    def id(self) -> str:
        return f"{self.suite.name}/{self.test}/{self.name}"


def suite_cases(library: Path) -> Iterator[Case]:
    for suite_file in sorted(library.rglob("suite.yaml")):
        suite = yaml.safe_load(suite_file.read_text())
        for test in suite.get("tests") or []:
            for case in test.get("cases") or []:
                yield Case(
                    suite=suite_file.parent.relative_to(library),
                    test=test["name"],
                    name=case["name"],
                    template=test["template"],
                    constraint=test["constraint"],
                    object=case["object"],
                    inventory=tuple(case.get("inventory") or ()),
                    assertions=tuple(case.get("assertions") or ()),
                )


CASES = list(suite_cases(SHARED / LIBRARY)) if (SHARED / LIBRARY).is_dir() else []
RESULTS: dict[str, bool] = {}


@pytest.fixture(scope="module", autouse=True)
def pass_counts() -> Iterator[None]:
    yield
    if RESULTS:
        passed = sum(RESULTS.values())
        suites = {case_id.split("/")[0] for case_id in RESULTS}
        print(
            f"\ngatekeeper-library: {passed}/{len(RESULTS)} cases pass"
            f" ({len(suites)} suites, {len(CASES)} cases collected)"
        )


def lay_out(case: Case, *, folder: Path, root: Path) -> Path:
    """The repository a user would write: policies/ and resources/, files copied as-is."""
    repo = root / "repo"
    (repo / "policies").mkdir(parents=True)
    (repo / "resources").mkdir()
    shutil.copyfile(folder / case.template, repo / "policies" / "template.yaml")
    shutil.copyfile(folder / case.constraint, repo / "policies" / "constraint.yaml")
    shutil.copyfile(folder / case.object, repo / OBJECT)
    for i, name in enumerate(case.inventory):
        shutil.copyfile(folder / name, repo / "resources" / f"inventory-{i}.yaml")
    return repo


def eval_messages(repo: Path, *, home: Path, binding: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "eval", str(repo), "--format", "json"],
        env=gitrepo.git_env({"HOME": str(home), "XDG_CACHE_HOME": str(home / "cache")}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.stderr == ""
    assert done.returncode in (0, 1)
    decisions = json.loads(done.stdout)["decisions"]
    return [
        m
        for d in decisions
        if d["binding"] == binding and d["resource"]["path"] == OBJECT
        for m in d["messages"]
    ]


def holds(assertion: dict[str, Any], messages: list[str]) -> bool:
    """`gator verify`'s check: count the messages matching `message`, compare to
    `violations` (yes: at least one, no: none, N: exactly N; yes when left out)."""
    pattern = assertion.get("message")
    found = [m for m in messages if pattern is None or re.search(pattern, m)]
    expected = assertion.get("violations", "yes")
    if expected is True or expected == "yes":
        return len(found) > 0
    if expected is False or expected == "no":
        return not found
    return len(found) == int(expected)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_suite_case(case: Case, shared: Path, tmp_path: Path) -> None:
    folder = shared / LIBRARY / case.suite
    constraint = yaml.safe_load((folder / case.constraint).read_text())
    binding = f"{constraint['kind']}/{constraint['metadata']['name']}"
    repo = lay_out(case, folder=folder, root=tmp_path)
    messages = eval_messages(repo, home=tmp_path, binding=binding)
    failed = [a for a in case.assertions if not holds(a, messages)]
    RESULTS[case.id] = not failed
    assert failed == [], f"violations {messages}"
