"""`reconciler runbook generate`: each built-in template makes a runbook that validates
clean; `--branch` commits it onto a new branch; bad incidents are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from reconciler.runbooks import generate as runbook_generate
from tests import gitrepo
from tests.runbooks.conftest import Cli, Repo, runbook

TYPES = ["cert_expiry", "disk_full", "high_cpu", "memory_leak", "service_down"]


def test_the_builtin_templates_are_the_documented_types() -> None:
    assert sorted(p.stem for p in runbook_generate.builtin_dir().glob("*.yaml")) == TYPES


@pytest.mark.parametrize("kind", TYPES)
def test_each_template_generates_a_runbook_that_validates_clean(
    cli: Cli, repo: Repo, kind: str
) -> None:
    root = repo(
        {"runbooks/own.yaml": runbook("own", "- {name: a, command: [date], timeout: 1s}\n")}
    )
    incident = json.dumps({"type": kind, "host": "db-1", "service": "api"})
    done = cli("runbook", "generate", "--incident", incident, root)
    path = f"runbooks/generated/{kind}-db-1.yaml"
    assert (done.code, done.out) == (0, f"wrote {path}; review it, then commit it\n")
    doc = yaml.safe_load((root / path).read_text())
    assert doc["metadata"]["name"] == f"{kind}-db-1"
    assert json.loads(doc["metadata"]["annotations"]["reconciler.dev/incident"])["host"] == "db-1"
    assert "db-1" in doc["spec"]["description"]
    host = next(v for v in doc["spec"]["variables"] if v["name"] == "host")
    assert host["default"] == "db-1"
    check = cli("runbook", "validate", root)
    assert (check.code, check.lines) == (0, ["ok: 2 runbooks"])
    assert cli("runbook", "test", root, f"{kind}-db-1").code == 0


def test_an_unknown_type_lists_the_known_ones(cli: Cli, repo: Repo) -> None:
    root = repo(
        {
            "runbooks/templates/net_split.yaml": runbook(
                "template-net",
                "- {name: a, command: [date], timeout: 1s}\n",
                variables="- {name: host}",
            )
        }
    )
    done = cli("runbook", "generate", "--incident", '{"type": "flood", "host": "x"}', root)
    assert done.code == 1
    assert done.err == (
        'error: unknown incident type "flood" (known: cert_expiry, disk_full, high_cpu,'
        " memory_leak, net_split, service_down)\n"
    )
    assert (
        cli("runbook", "generate", "--incident", '{"type": "net_split", "host": "x"}', root).code
        == 0
    )
    assert (root / "runbooks/generated/net_split-x.yaml").is_file()


@pytest.mark.parametrize(
    ("incident", "message"),
    [
        ('{"host": "x"}', '--incident: must be a JSON object with a string "type"'),
        (
            "{nope",
            "--incident: not JSON: Expecting property name enclosed in double quotes:"
            " line 1 column 2 (char 1)",
        ),
        (
            '{"type": "disk_full", "host": "db-1; reboot"}',
            'incident "host": "db-1; reboot" does not match pattern "^[A-Za-z0-9][A-Za-z0-9.-]*$"',
        ),
        (
            '{"type": "disk_full", "host": "db", "stale_days": "soon"}',
            'incident "stale_days": must be an integer, got "soon"',
        ),
    ],
)
def test_bad_incidents_are_refused(cli: Cli, repo: Repo, incident: str, message: str) -> None:
    root = repo({})
    done = cli("runbook", "generate", "--incident", incident, root)
    assert (done.code, done.err) == (1, f"error: {message}\n")
    assert not (root / "runbooks").exists()


def test_branch_gets_one_commit_and_the_work_tree_is_untouched(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "git"
    base = gitrepo.make_repo(root, {"README.md": "hi\n"})
    done = cli(
        "runbook",
        "generate",
        "--incident",
        '{"type": "high_cpu", "host": "web-2"}',
        root,
        "--branch",
        "incident/web-2",
    )
    path = "runbooks/generated/high_cpu-web-2.yaml"
    sha = gitrepo.git(root, "rev-parse", "incident/web-2")
    assert (done.code, done.out) == (0, f"committed {path} on branch incident/web-2 ({sha[:12]})\n")
    assert gitrepo.git(root, "rev-list", "--count", f"{base}..incident/web-2") == "1"
    assert gitrepo.git(root, "rev-parse", "HEAD") == base
    assert gitrepo.git(root, "diff", "--name-only", base, "incident/web-2") == path
    assert gitrepo.git(root, "status", "--porcelain") == ""
    assert not (root / path).exists()
    text = gitrepo.git(root, "show", f"incident/web-2:{path}")
    assert yaml.safe_load(text)["metadata"]["name"] == "high_cpu-web-2"
    again = cli(
        "runbook",
        "generate",
        "--incident",
        '{"type": "high_cpu", "host": "web-2"}',
        root,
        "--branch",
        "incident/web-2",
    )
    assert (again.code, again.err) == (
        1,
        f'error: branch "incident/web-2" already exists in {root}\n',
    )
