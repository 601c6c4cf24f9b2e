"""The command-safety check of runbooks: the built-in Rego pack plus the repository's own.

The pack (`rego/packs/runbook_safety/`, package `reconciler.packs.runbook_safety`) flags
commands such as `rm -rf /`, `mkfs`, `curl ... | sh` or `shutdown`. A repository adds rules
in modules under `policies/` whose package is `reconciler.runbook_safety` or below it; the
`deny` set of each such package counts. Members of `deny` are objects
`{"step": name, "msg": text, "key": "command"|"rollback.command"}` (`key` optional) or
plain strings, which concern the runbook as a whole. The input is the Runbook (or
Workflow) document, as written or with its variables rendered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler import assets
from reconciler.errors import Problem
from reconciler.policy import rego, testing
from reconciler.specs.snapshot import RegoFile

PACK = "reconciler.packs.runbook_safety"
EXTENSION_PACKAGE = "reconciler.runbook_safety"
_PACKAGE = re.compile(r"^\s*package\s+([\w.]+)", re.MULTILINE)


@dataclass(frozen=True, kw_only=True, order=True)
class Danger:
    """One finding: which step (empty for the runbook as a whole), where in it, and why."""

    step: str
    key: str
    message: str
    policy: str


def is_safety_package(package: str) -> bool:
    """The pack itself, or a repository's extension of it."""
    return package in (PACK, EXTENSION_PACKAGE) or package.startswith(EXTENSION_PACKAGE + ".")


def extension_modules(rego_files: Sequence[RegoFile]) -> list[RegoFile]:
    """The repository's modules that extend the pack (tests left out)."""
    found = []
    for module in rego_files:
        match = _PACKAGE.search(module.text)
        package = match.group(1) if match else ""
        if not module.is_test and package != PACK and is_safety_package(package):
            found.append(module)
    return found


class SafetyCheck:
    """The pack and the repository's extensions in one engine; use it on one thread."""

    def __init__(
        self,
        *,
        extensions: Sequence[RegoFile] = (),
        data: Mapping[str, Any] | None = None,
        builtin_dir: Path | None = None,
    ) -> None:
        self._engine = rego.RegoEngine()
        self.problems: list[Problem] = []
        self.policies: list[str] = []
        root = builtin_dir or assets.rego_dir()
        for module in [*testing.builtin_modules(root), *extensions]:
            try:
                package = self._engine.add_module(module.path, module.text)
            except rego.RegoCompileError as exc:
                self.problems.append(exc.failure.problem(module.path))
                continue
            name = package.removeprefix("data.")
            if is_safety_package(name) and name not in self.policies:
                self.policies.append(name)
        if data:
            self._engine.add_data(dict(data))

    def check(self, document: Mapping[str, Any]) -> list[Danger]:
        """Every finding of every safety policy over one Runbook/Workflow document."""
        self._engine.set_input_json(json.dumps(document))
        found: set[Danger] = set()
        for policy in self.policies:
            answer = self._engine.eval_rule(f"data.{policy}.deny")
            if isinstance(answer, list):
                found.update(_danger(item, policy=policy) for item in answer)
        return sorted(found)


def _danger(item: Any, *, policy: str) -> Danger:
    if isinstance(item, dict):
        return Danger(
            step=str(item.get("step") or ""),
            key=str(item.get("key") or "command"),
            message=str(item.get("msg", item)),
            policy=policy,
        )
    return Danger(step="", key="", message=str(item), policy=policy)
