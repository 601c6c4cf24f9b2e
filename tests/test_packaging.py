"""The project's own wiring: packaging lists every package, and the README's commands are
the ones CI runs."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```sh\n(.+?)\n```", text)


def test_every_package_folder_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "reconciler").rglob("__init__.py")
    }
    assert found - listed == set()


def test_readme_opens_with_the_two_commands_and_ci_runs_the_second() -> None:
    commands = readme_commands()
    assert len(commands) >= 2
    run, tests = commands[0], commands[1]
    assert "reconciler init" in run and "pip install" in run
    assert tests in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def requirement_names(requirements: list[str]) -> set[str]:
    return {canonical(re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0]) for r in requirements}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def third_party_imports(folder: Path) -> dict[str, str]:
    """Top-level modules imported under `folder` that are neither stdlib nor the project's own,
    each with one file importing it."""
    files = sorted(folder.rglob("*.py"))
    local = {p.stem for p in files} | {"reconciler", "tests", "benchmarks"}  # scripts' siblings
    found: dict[str, str] = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            else:
                continue
            for top in {name.split(".")[0] for name in names}:
                if top not in sys.stdlib_module_names and top not in local:
                    found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def undeclared(folder: str, *groups: str) -> list[str]:
    """Imports under `folder` that no distribution declared in `groups` provides."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = [
        r
        for g in groups
        for r in (
            project["dependencies"] if g == "runtime" else project["optional-dependencies"][g]
        )
    ]
    declared = requirement_names(requirements)
    providers = importlib.metadata.packages_distributions()
    return [
        f"{module} (imported in {where}; provided by {providers.get(module)})"
        for module, where in sorted(third_party_imports(ROOT / folder).items())
        if not {canonical(d) for d in providers.get(module, [])} & declared
    ]


def test_the_package_imports_only_declared_runtime_dependencies() -> None:
    """A bare `pip install .` must bring everything the package imports (a test extra once
    hid a missing one)."""
    assert undeclared("reconciler", "runtime") == []


def test_tests_and_benchmarks_import_only_declared_extras() -> None:
    assert undeclared("tests", "runtime", "test", "dev") == []
    assert undeclared("benchmarks", "runtime") == []


def test_constraints_pin_every_declared_dependency() -> None:
    """constraints.txt (scripts/lock) covers the package and all its extras, one exact pin each."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = requirement_names(
        [
            *project["dependencies"],
            *(r for e in project["optional-dependencies"].values() for r in e),
        ]
    )
    lines = (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
    pins = [line.split("==") for line in lines if line and not line.startswith("#")]
    assert all(len(pin) == 2 for pin in pins)
    names = [canonical(name) for name, _ in pins]
    assert len(names) == len(set(names))
    assert declared - set(names) == set()
