"""Verbs that neither serve nor talk HTTP load no web stack: a bare `pip install` of the
package works for them, and they start fast. Python's own import log
(`PYTHONPROFILEIMPORTTIME`) names every module a run imported."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.cli import app
from tests.cli.conftest import Cli

WEB_STACK = {"starlette", "uvicorn", "httpx", "jinja2", "markdown_it", "prometheus_client"}
IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$")
IMPORT_LOG = {"PYTHONPROFILEIMPORTTIME": "1"}


def imported(stderr: str) -> set[str]:
    """Top-level names of the modules in an import-time log."""
    names = {m.group(1).split(".")[0] for m in map(IMPORT_LINE.match, stderr.splitlines()) if m}
    assert "reconciler" in names  # the log was read: the package itself is in it
    return names


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("validate", "{repo}"), 0),
        (("eval", "{repo}"), 0),
        (("test", "{repo}"), 0),
        (("schema", "Workflow"), 0),
        (("runbook", "list", "{repo}"), 0),
        (("simulate", "{repo}", "--base", "HEAD", "--head", "HEAD", "--format", "json"), 0),
        (("token", "new"), 0),
        (("audit", "verify", "--data-dir", "{repo}"), 1),  # no store there: refused
        (("serve",), 1),  # a usage error: the verb's arguments are read, the daemon never starts
    ],
    ids=lambda value: value[0] if isinstance(value, tuple) else str(value),
)
def test_verbs_that_do_not_serve_import_no_web_stack(
    cli: Cli, shared_example: Path, args: tuple[str, ...], code: int
) -> None:
    done = cli(*(a.format(repo=shared_example) for a in args), env=IMPORT_LOG)
    assert done.code == code, done.err
    assert imported(done.err) & WEB_STACK == set()


def test_serving_imports_the_web_stack() -> None:
    """The other side of the check: the module `serve` runs loads the web stack (httpx, the
    http provider's client, waits for the first request an HttpResource makes)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import reconciler.cli.serving"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert imported(done.stderr) & WEB_STACK == WEB_STACK - {"httpx"}


HEAVY = ("sqlalchemy", "numpy", "scipy", "uvicorn", "starlette", "apscheduler", "watchfiles")
MODULES_AFTER = """
import json, sys
from reconciler import cli
code = cli.main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def test_validate_loads_only_what_validating_needs(shared_example: Path) -> None:
    """The store, numpy, the scheduler, the watcher and the HTTP server belong to other
    verbs; `validate` loads the one verb module it runs, never the others'."""
    done = subprocess.run(
        [sys.executable, "-c", MODULES_AFTER, "validate", str(shared_example)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["code"] == 0, done.stdout
    modules = set(report["modules"])
    assert {"reconciler.cli.check", "reconciler.policy.bundle", "regorus"} <= modules
    assert {m for m in modules if m.split(".")[0] in HEAVY} == set()
    others = {f"reconciler.cli.{v.module}" for v in app.VERBS.values()} - {"reconciler.cli.check"}
    assert modules & others == set()
    assert not any(m.startswith(("reconciler.api", "reconciler.store")) for m in modules)
