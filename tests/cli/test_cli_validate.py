"""`reconciler validate` (and `eval`'s refusal) on the example repository: from a
directory, from a Git URL or path at a revision, from a sub-folder; every problem listed."""

from __future__ import annotations

import json
from pathlib import Path

from tests import gitrepo
from tests.cli.conftest import Cli, head

EXAMPLE_COUNTS = {
    "resources": 13,
    "policies": 7,
    "bindings": 6,
    "constraints": 1,
    "workflows": 1,
    "runbooks": 3,
}
SUMMARY = "13 resources, 7 policies, 6 bindings, 1 constraint, 1 workflow, 3 runbooks"


def test_validate_the_example_directory(cli: Cli, shared_example: Path) -> None:
    done = cli("validate", shared_example)
    assert (done.code, done.out, done.err) == (0, f"ok: working tree: {SUMMARY}\n", "")


def test_validate_defaults_to_the_current_directory(cli: Cli, shared_example: Path) -> None:
    done = cli("validate", cwd=shared_example)
    assert (done.code, done.out) == (0, f"ok: working tree: {SUMMARY}\n")


def test_validate_json(cli: Cli, shared_example: Path) -> None:
    done = cli("validate", shared_example, "--format", "json")
    assert done.code == 0
    assert json.loads(done.out) == {
        "revision": None,
        "valid": True,
        "counts": EXAMPLE_COUNTS,
        "problems": [],
        "conflicts": [],
    }


def test_validate_a_file_url_reads_main(cli: Cli, shared_example: Path) -> None:
    done = cli("validate", "--repo", shared_example.as_uri())
    assert (done.code, done.err) == (0, "")
    assert done.out == f"ok: main@{head(shared_example)[:12]}: {SUMMARY}\n"


def test_validate_a_local_repository_reads_its_head(cli: Cli, shared_example: Path) -> None:
    done = cli("validate", "--repo", shared_example)
    assert (done.code, done.out) == (0, f"ok: HEAD@{head(shared_example)[:12]}: {SUMMARY}\n")
    by_sha = cli("validate", "--repo", shared_example, "--rev", head(shared_example)[:7])
    assert (by_sha.code, by_sha.out) == (0, f"ok: {head(shared_example)[:12]}: {SUMMARY}\n")


def test_validate_a_tag_through_a_url(cli: Cli, example: Path) -> None:
    gitrepo.tag(example, "v1", message="first release")
    tagged = head(example)
    gitrepo.commit(example, {}, delete=["runbooks/disk-full.yaml"])
    done = cli("validate", "--repo", example.as_uri(), "--rev", "v1")
    assert (done.code, done.out) == (0, f"ok: v1@{tagged[:12]}: {SUMMARY}\n")
    latest = cli("validate", "--repo", example.as_uri())
    one_runbook = SUMMARY.replace("3 runbooks", "2 runbooks")
    assert latest.out == f"ok: main@{head(example)[:12]}: {one_runbook}\n"


def test_rev_takes_any_revision_expression_git_accepts(cli: Cli, example: Path) -> None:
    first = head(example)
    gitrepo.commit(example, {}, delete=["runbooks/disk-full.yaml"])
    gitrepo.commit(example, {}, delete=["runbooks/rotate-logs.yaml"])
    done = cli("validate", "--repo", example, "--rev", "HEAD~2")
    assert (done.code, done.out) == (0, f"ok: HEAD~2@{first[:12]}: {SUMMARY}\n")
    done = cli("validate", "--repo", example, "--rev", "main^")
    one_runbook = SUMMARY.replace("3 runbooks", "2 runbooks")
    assert (done.code, done.out) == (0, f"ok: main^@{head(example, 1)[:12]}: {one_runbook}\n")
    done = cli("validate", "--repo", example, "--rev", "HEAD~9")
    assert (done.code, done.err) == (
        1,
        f'error: revision "HEAD~9" not found in {example} (branches: main; tags: none)\n',
    )


def test_validate_a_tag_of_a_repository_path(cli: Cli, example: Path) -> None:
    gitrepo.tag(example, "v1")
    tagged = head(example)
    gitrepo.commit(example, {}, delete=["workflows/nightly-backup.yaml"])
    done = cli("validate", "--repo", example, "--rev", "v1", "--format", "json")
    assert done.code == 0, done.err
    report = json.loads(done.out)
    assert (report["revision"], report["counts"]["workflows"]) == (tagged, 1)
    now = cli("validate", "--repo", example, "--format", "json")
    assert (json.loads(now.out)["revision"], json.loads(now.out)["counts"]["workflows"]) == (
        head(example),
        0,
    )


def test_validate_a_subpath(cli: Cli, shared_example: Path, tmp_path: Path) -> None:
    files = {
        f"deploy/{p.relative_to(shared_example).as_posix()}": p.read_bytes()
        for p in shared_example.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(shared_example).parts
    }
    mono = tmp_path / "mono"
    sha = gitrepo.make_repo(mono, {**files, "README.md": "other projects live here\n"})
    done = cli("validate", "--repo", mono, "--subpath", "deploy")
    assert (done.code, done.out) == (0, f"ok: HEAD@{sha[:12]}: {SUMMARY}\n")
    local = cli("validate", mono, "--subpath", "deploy")
    assert (local.code, local.out) == (0, f"ok: working tree: {SUMMARY}\n")
    missing = cli("validate", "--repo", mono, "--subpath", "nope")
    assert (missing.code, missing.err) == (
        1,
        f'error: sub-path "nope" does not exist in commit {sha[:12]}\n',
    )


BROKEN_LINES = [
    "policies/bindings.yaml:61 spec.enforcement:"
    " must be one of: strict, advisory, gradual, monitor",
    "policies/k8s/extra.rego:6: expecting `}` while parsing set",
    "resources/broken.yaml:6: did not find expected ',' or ']'"
    " (while parsing a flow sequence at line 5)",
    'workflows/nightly-backup.yaml:21 spec.timeout: must be a duration like "30s"',
]


def break_example(repo: Path) -> None:
    """Four problems in four kinds of file, committed."""
    bindings = (repo / "policies/bindings.yaml").read_text()
    workflow = (repo / "workflows/nightly-backup.yaml").read_text()
    assert "enforcement: advisory" in bindings and "timeout: 15m" in workflow
    bindings = bindings.replace("enforcement: advisory", "enforcement: sometimes", 1)
    files = {
        "policies/bindings.yaml": bindings,
        "workflows/nightly-backup.yaml": workflow.replace("timeout: 15m", "timeout: 15 minutes"),
        "policies/k8s/extra.rego": "package k8s.extra\n\nimport rego.v1\n\n"
        "deny contains msg if {\n\tmsg :=\n}\n",
        "resources/broken.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
        "  labels: [a\n",
    }
    gitrepo.commit(repo, files, message="break things")


def test_validate_lists_every_problem(cli: Cli, example: Path) -> None:
    break_example(example)
    done = cli("validate", example)
    assert done.code == 1
    assert done.lines == [*BROKEN_LINES, "4 problems in working tree"]
    from_git = cli("validate", "--repo", example)
    assert from_git.code == 1
    assert from_git.lines == [*BROKEN_LINES, f"4 problems in HEAD@{head(example)[:12]}"]


def test_validate_json_lists_every_problem(cli: Cli, example: Path) -> None:
    break_example(example)
    done = cli("validate", example, "--format", "json")
    report = json.loads(done.out)
    assert (done.code, report["valid"], report["revision"]) == (1, False, None)
    assert report["counts"]["workflows"] == 0  # the broken workflow is not counted
    assert report["problems"] == [
        {
            "path": "policies/bindings.yaml",
            "line": 61,
            "key": "spec.enforcement",
            "message": "must be one of: strict, advisory, gradual, monitor",
        },
        {
            "path": "policies/k8s/extra.rego",
            "line": 6,
            "key": "",
            "message": "expecting `}` while parsing set",
        },
        {
            "path": "resources/broken.yaml",
            "line": 6,
            "key": "",
            "message": "did not find expected ',' or ']' (while parsing a flow sequence at line 5)",
        },
        {
            "path": "workflows/nightly-backup.yaml",
            "line": 21,
            "key": "spec.timeout",
            "message": 'must be a duration like "30s"',
        },
    ]


def test_eval_refuses_a_revision_with_problems(cli: Cli, example: Path) -> None:
    break_example(example)
    for fmt in ("table", "json"):
        done = cli("eval", example, "--format", fmt)
        assert (done.code, done.out) == (1, "")
        assert done.err_lines == [
            *BROKEN_LINES,
            "4 problems in working tree",
            "not evaluated: fix the problems above first",
        ]


def test_a_nonexistent_revision_is_one_clear_line(cli: Cli, shared_example: Path) -> None:
    done = cli("validate", "--repo", shared_example, "--rev", "v9")
    assert (done.code, done.out) == (1, "")
    assert done.err == (
        f'error: revision "v9" not found in {shared_example} (branches: main; tags: none)\n'
    )


def test_an_unreachable_repository_is_one_clear_line(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "gone"
    done = cli("validate", "--repo", missing.as_uri())
    assert (done.code, done.out) == (1, "")
    assert done.err == (
        f"error: cannot fetch {missing.as_uri()}: failed to resolve path '{missing}':"
        " No such file or directory\n"
    )
    refused = cli("eval", "--repo", "http://127.0.0.1:9/repo.git")
    assert refused.code == 1
    assert refused.err == (
        "error: cannot fetch http://127.0.0.1:9/repo.git:"
        " failed to connect to 127.0.0.1: Connection refused\n"
    )


def test_a_missing_directory_is_one_clear_line(cli: Cli, tmp_path: Path) -> None:
    done = cli("validate", tmp_path / "nope")
    assert (done.code, done.err) == (1, f"error: {tmp_path / 'nope'}: not a directory\n")


def test_directory_and_repo_options_do_not_mix(cli: Cli, shared_example: Path) -> None:
    both = cli("validate", shared_example, "--repo", shared_example)
    assert (both.code, both.err) == (
        1,
        f"error: give either a directory ({shared_example}) or --repo, not both\n",
    )
    rev_alone = cli("validate", shared_example, "--rev", "main")
    assert (rev_alone.code, rev_alone.err) == (1, "error: --rev and --cache-dir need --repo\n")
