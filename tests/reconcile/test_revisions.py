"""A source keeps serving its last-known-good revision when a new one does not load."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.conditions import Reason
from reconciler.errors import Problem
from reconciler.reconcile.revisions import Loaded, Rejected
from reconciler.source import git
from reconciler.source.settings import SourceSettings
from reconciler.specs import loader
from tests import gitrepo
from tests.reconcile.helpers import POLICY, MakeHarness, base_files, file_doc

BAD_BINDING = """\
apiVersion: reconciler.dev/v1
kind: PolicyBinding
metadata: {name: ghost}
spec: {policy: nope.missing}
"""

CASES = [
    pytest.param(
        {"resources/bad.yaml": "apiVersion: v1\nkind: File\nmetadata: {name: [\n"},
        Reason.VALIDATION_FAILED,
        Problem(
            path="resources/bad.yaml",
            line=4,
            message="did not find expected node content (while parsing a flow node at line 4)",
        ),
        id="invalid YAML",
    ),
    pytest.param(
        {"policies/broken.rego": "package broken\nallow if {\n"},
        Reason.COMPILE_FAILED,
        Problem(path="policies/broken.rego", line=3, message="expecting expression"),
        id="invalid Rego",
    ),
    pytest.param(
        {"policies/ghost.yaml": BAD_BINDING},
        Reason.COMPILE_FAILED,
        Problem(
            path="policies/ghost.yaml",
            line=1,
            key="spec.policy",
            message='policy "nope.missing" not found '
            "(known: files.mode, reconciler.packs.runbook_safety)",
        ),
        id="binding naming a missing policy",
    ),
]


@pytest.mark.parametrize(("files", "reason", "problem"), CASES)
def test_a_bad_revision_is_rejected_and_the_last_good_one_kept(
    make_harness: MakeHarness, out: Path, files: dict[str, str], reason: Reason, problem: Problem
) -> None:
    h = make_harness(base_files(out))
    assert h.loader is not None
    good = h.loader.refresh(fetch=False)
    assert isinstance(good, Loaded)
    files = {**files, "resources/a.yaml": file_doc("a", out / "a", content="from the bad one\n")}
    sha = h.commit(files)
    got = h.loader.refresh(fetch=False)
    assert isinstance(got, Rejected)
    assert got.revision is not None
    assert (got.revision.sha, got.reason, got.problems) == (sha, reason, (problem,))
    assert got.message == f"revision {sha[:12]} rejected: {problem}"
    assert h.loader.last_good is good and h.loader.last_rejected is got
    assert h.loader.refresh(fetch=False) is got  # not loaded again
    result = h.sync()
    assert result.revision == good.revision.sha
    assert h.path("a").read_text() == "v1\n"


def test_a_fixed_revision_is_promoted(make_harness: MakeHarness, out: Path) -> None:
    h = make_harness(base_files(out))
    assert h.loader is not None
    h.commit({"policies/broken.rego": "package broken\nallow if {\n"})
    assert isinstance(h.loader.refresh(fetch=False), Rejected)
    fixed = h.commit({"policies/broken.rego": "package broken\nimport rego.v1\nallow := true\n"})
    got = h.loader.refresh(fetch=False)
    assert isinstance(got, Loaded) and got.revision.sha == fixed
    assert h.loader.last_rejected is None


def test_a_fetch_failure_is_rejected_without_a_revision(tmp_path: Path) -> None:
    from reconciler.reconcile.revisions import SourceLoader
    from reconciler.source.settings import SourceSettings

    (tmp_path / "empty").mkdir()
    loader = SourceLoader(SourceSettings(path=tmp_path / "empty"))
    got = loader.refresh(fetch=False)
    assert isinstance(got, Rejected)
    assert (got.revision, got.reason, got.problems) == (None, Reason.FETCH_FAILED, ())
    assert got.message.startswith(f"cannot open {tmp_path / 'empty'}: ")
    assert loader.last_good is None


def test_document_at_reads_an_older_revision(make_harness: MakeHarness, out: Path) -> None:
    h = make_harness(base_files(out))
    assert h.loader is not None
    first = gitrepo.git(h.repo, "rev-parse", "HEAD")
    h.commit({}, delete=["resources/a.yaml"])
    h.loader.refresh(fetch=False)
    old = h.loader.document_at(first, "File//a")
    assert old is not None
    assert (old.path, old.body["spec"]["content"]) == ("resources/a.yaml", "v1\n")
    assert h.loader.document_at(first, "File//zzz") is None
    assert h.loader.document_at("0" * 40, "File//a") is None


def test_a_rejection_names_every_problem_of_the_revision(
    make_harness: MakeHarness, out: Path
) -> None:
    h = make_harness(base_files(out))
    assert h.loader is not None
    sha = h.commit(
        {
            "resources/bad.yaml": "apiVersion: v1\nkind: File\nmetadata: {name: [\n",
            "policies/broken.rego": "package broken\nallow if {\n",
        }
    )
    got = h.loader.refresh(fetch=False)
    assert isinstance(got, Rejected)
    rego = Problem(path="policies/broken.rego", line=3, message="expecting expression")
    yaml = Problem(
        path="resources/bad.yaml",
        line=4,
        message="did not find expected node content (while parsing a flow node at line 4)",
    )
    assert (got.reason, got.problems) == (Reason.VALIDATION_FAILED, (rego, yaml))
    assert got.message == f"revision {sha[:12]} rejected: {rego}; {yaml}"


def test_a_revision_that_changes_no_policy_input_keeps_the_compiled_bundle(
    make_harness: MakeHarness, out: Path
) -> None:
    h = make_harness(base_files(out))
    assert h.loader is not None
    first = h.loader.refresh(fetch=False)
    assert isinstance(first, Loaded)

    h.commit({"resources/a.yaml": file_doc("a", out / "a", content="v2\n")})
    resources_only = h.loader.refresh(fetch=False)
    assert isinstance(resources_only, Loaded)
    assert resources_only.bundle is first.bundle

    namespace = "apiVersion: v1\nkind: Namespace\nmetadata: {name: prod, labels: {tier: a}}\n"
    h.commit({"resources/prod.yaml": namespace})  # namespaceSelector reads its labels
    with_namespace = h.loader.refresh(fetch=False)
    assert isinstance(with_namespace, Loaded)
    assert with_namespace.bundle is not resources_only.bundle
    assert dict(with_namespace.bundle.namespaces["prod"]) == {"tier": "a"}
    h.commit({"resources/a.yaml": file_doc("a", out / "a", content="v3\n")})
    other = h.loader.refresh(fetch=False)
    assert isinstance(other, Loaded) and other.bundle is with_namespace.bundle
    h.commit({}, delete=["resources/prod.yaml"])
    without = h.loader.refresh(fetch=False)
    assert isinstance(without, Loaded) and dict(without.bundle.namespaces) == {}
    h.commit({"resources/prod.yaml": namespace})

    h.commit({"policies/mode.rego": (h.repo / "policies/mode.rego").read_text() + "\n# more\n"})
    policy_changed = h.loader.refresh(fetch=False)
    assert isinstance(policy_changed, Loaded)
    assert policy_changed.bundle is not with_namespace.bundle


def test_a_commit_to_resources_is_patched_from_the_revision_loaded_before(
    make_harness: MakeHarness, out: Path
) -> None:
    """The rejection of a patched revision names every problem, as a full load would."""
    h = make_harness(base_files(out))
    assert h.loader is not None
    good = h.loader.refresh(fetch=False)
    assert isinstance(good, Loaded)
    sha = h.commit({"resources/b.yaml": "apiVersion: v1\nkind: File\nmetadata: {name: [\n"})
    got = h.loader.refresh(fetch=False)
    assert isinstance(got, Rejected) and got.revision is not None
    problem = Problem(
        path="resources/b.yaml",
        line=4,
        message="did not find expected node content (while parsing a flow node at line 4)",
    )
    assert (got.revision.sha, got.problems) == (sha, (problem,))
    assert h.loader.last_good is good
    h.commit({"resources/b.yaml": file_doc("b", out / "b", content="v2\n")})
    fixed = h.loader.refresh(fetch=False)
    assert isinstance(fixed, Loaded)
    full = loader.load(git.GitSource.open(SourceSettings(path=h.repo)).tree(fixed.revision))
    assert fixed.snapshot == full
    assert [d.body["spec"]["content"] for d in fixed.snapshot.resources] == ["v1\n", "v2\n", "v1\n"]
    assert (h.loader.chain.patched, h.loader.chain.full) == (2, 1)
    assert h.loader.chain.last_diff is not None
    assert h.loader.chain.last_diff[:2] == (sha, fixed.revision.sha)  # served from it:
    assert h.loader.changed_paths(sha, fixed.revision.sha) == ["resources/b.yaml"]
    assert h.loader.changed_paths(good.revision.sha, sha) == ["resources/b.yaml"]
    h.commit({"policies/mode.rego": POLICY + "\n"})
    assert isinstance(h.loader.refresh(fetch=False), Loaded)
    assert (h.loader.chain.patched, h.loader.chain.full) == (2, 2)  # policies: loaded whole


def test_a_commit_adding_a_provider_program_materialises_it(tmp_path: Path) -> None:
    """Revisions without repository programs skip the walk of every document; the first
    commit whose changed files name one still gets its programs."""
    from reconciler.reconcile.revisions import SourceLoader

    repo = tmp_path / "repo"
    gitrepo.make_repo(repo, {"resources/a.yaml": file_doc("a", tmp_path / "a")})
    source = SourceLoader(SourceSettings(path=repo), programs_dir=tmp_path / "programs")
    first = source.refresh(fetch=False)
    assert isinstance(first, Loaded) and first.programs is None
    svc = (
        "apiVersion: reconciler.dev/v1\nkind: ExecResource\nmetadata: {name: svc}\n"
        "spec: {provider: bin/p.sh, desired: {port: 1}}\n"
    )
    program = gitrepo.Executable("#!/bin/sh\necho '{}'\n")
    gitrepo.commit(repo, {"resources/svc.yaml": svc, "bin/p.sh": program})
    second = source.refresh(fetch=False)
    assert isinstance(second, Loaded) and second.programs is not None
    assert (second.programs / "bin/p.sh").read_text() == program.text
    gitrepo.commit(repo, {"resources/a.yaml": file_doc("a", tmp_path / "a", content="v2\n")})
    third = source.refresh(fetch=False)
    assert isinstance(third, Loaded) and third.programs is not None
    assert (third.programs / "bin/p.sh").is_file()
