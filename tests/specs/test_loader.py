"""Loading a revision: routing, every problem with its whole message, nothing good lost."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from reconciler.errors import Problem
from reconciler.source.tree import DirectoryTree
from reconciler.specs import flows, loader, snapshot, yamlio
from tests import manifests
from tests.specs.conftest import MemoryTree

REPO_TEMPLATE = Path(__file__).resolve().parents[2] / "repo-template"

WORKFLOW = """\
apiVersion: reconciler.dev/v1
kind: Workflow
metadata: {name: nightly-backup}
spec:
  steps:
    - name: archive
      command: ["tar", "czf", "/tmp/backup.tgz", "/tmp/x"]
      timeout: 5m
    - name: verify
      dependsOn: [archive]
      command: ["tar", "tzf", "/tmp/backup.tgz"]
"""

GOOD: dict[str, str | bytes] = {
    "README.md": "# not a spec\n",
    "providers/local-service.py": "print('ignored')\n",
    "reconciler.yaml": (
        "apiVersion: reconciler.dev/v1\nkind: Settings\nmetadata: {name: repo}\n"
        "spec: {interval: 1m}\n"
    ),
    "policies/labels.rego": "package k8s.required_labels\n",
    "policies/bindings.yaml": (
        "apiVersion: reconciler.dev/v1\nkind: PolicyBinding\n"
        "metadata: {name: require-owner-labels}\n"
        "spec: {policy: k8s.required_labels, enforcement: advisory}\n"
    ),
    "data/teams.yaml": "teams: [platform, payments]\n",
    "resources/web.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: default}\n"
        "spec: {replicas: 2}\n"
    ),
    "resources/motd.yaml": (
        "apiVersion: reconciler.dev/v1\nkind: File\nmetadata: {name: motd}\n"
        'spec: {path: /tmp/reconciler-example/motd, content: "hello\\n", mode: "0644"}\n'
    ),
    "workflows/nightly.yaml": WORKFLOW,
}


def load_with(
    extra: dict[str, str | bytes], *, sizes: dict[str, int] | None = None
) -> snapshot.Snapshot:
    return loader.load(MemoryTree({**GOOD, **extra}, sizes=sizes))


def messages(snap: snapshot.Snapshot) -> list[str]:
    return [str(problem) for problem in snap.problems]


def assert_good_loaded(snap: snapshot.Snapshot) -> None:
    """Everything in GOOD is there, whatever else the revision holds."""
    assert snap.settings.spec.interval == "1m"
    assert [rego.path for rego in snap.rego] == ["policies/labels.rego"]
    assert [doc.name for doc, _ in snap.bindings] == ["require-owner-labels"]
    assert snap.data["teams"] == ["platform", "payments"]
    assert {"File//motd", "Deployment/default/web"} <= {doc.key for doc in snap.resources}
    assert [doc.name for doc, _ in snap.workflows] == ["nightly-backup"]


def test_a_good_revision_loads_every_role_and_ignores_other_files() -> None:
    snap = load_with({})
    assert messages(snap) == []
    assert_good_loaded(snap)
    binding = snap.bindings[0][1]
    assert binding.spec.enforcement == "advisory"
    workflow_doc, workflow = snap.workflows[0]
    assert isinstance(workflow, flows.Workflow)
    assert (workflow_doc.path, workflow_doc.line, workflow_doc.index) == (
        "workflows/nightly.yaml",
        1,
        0,
    )
    assert [doc.path for doc in snap.resources] == ["resources/motd.yaml", "resources/web.yaml"]


def test_without_reconciler_yaml_the_default_settings_apply() -> None:
    files = {p: d for p, d in GOOD.items() if p != "reconciler.yaml"}
    snap = loader.load(MemoryTree(files))
    assert snap.problems == ()
    assert snap.settings.metadata.name == "default"
    assert snap.settings.spec.interval == "5m"


@pytest.mark.parametrize(
    ("path", "text", "expected"),
    [
        pytest.param(
            "resources/broken.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n data: 1\n",
            "resources/broken.yaml:5: did not find expected key"
            " (while parsing a block mapping at line 1)",
            id="malformed-yaml",
        ),
        pytest.param(
            "resources/unclosed.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [x\n",
            "resources/unclosed.yaml:4: did not find expected ',' or ']'"
            " (while parsing a flow sequence at line 3)",
            id="unclosed-flow",
        ),
        pytest.param(
            "resources/list.yaml",
            "- apiVersion: v1\n",
            "resources/list.yaml:1: must be a mapping with apiVersion, kind and metadata,"
            " not a list",
            id="not-a-mapping",
        ),
        pytest.param(
            "resources/scalar.yaml",
            "just text\n",
            "resources/scalar.yaml:1: must be a mapping with apiVersion, kind and metadata,"
            " not a string",
            id="scalar-document",
        ),
        pytest.param(
            "resources/nameless.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: default\n",
            "resources/nameless.yaml:3 metadata.name: required",
            id="missing-name",
        ),
        pytest.param(
            "resources/kindless.yaml",
            "apiVersion: v1\nmetadata: {name: x}\n",
            "resources/kindless.yaml:1 kind: required",
            id="missing-kind",
        ),
        pytest.param(
            "resources/labels.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels:\n    tier: 3\n",
            "resources/labels.yaml:6 metadata.labels.tier: must be a string",
            id="label-not-string",
        ),
        pytest.param(
            "resources/file.yaml",
            "apiVersion: reconciler.dev/v1\nkind: File\nmetadata: {name: f}\n"
            "spec:\n  path: /tmp/f\n  contents: hi\n",
            "resources/file.yaml:6 spec.contents: unknown key",
            id="unknown-key-own-resource",
        ),
        pytest.param(
            "resources/wf.yaml",
            WORKFLOW,
            "resources/wf.yaml:2 kind: must be a resource kind (ExecResource, File, HttpResource)"
            " here",
            id="workflow-in-resources",
        ),
        pytest.param(
            "policies/extra.yaml",
            "apiVersion: reconciler.dev/v1\nkind: PolicyBinding\nmetadata: {name: b}\n"
            "spec:\n  policy: x\n  enforcement: loud\n",
            "policies/extra.yaml:6 spec.enforcement: must be one of:"
            " strict, advisory, gradual, monitor",
            id="wrong-enum",
        ),
        pytest.param(
            "policies/params.yaml",
            "apiVersion: reconciler.dev/v1\nkind: PolicyBinding\nmetadata: {name: b}\n"
            "spec:\n  policy: 42\n",
            "policies/params.yaml:5 spec.policy: must be a string",
            id="wrong-type",
        ),
        pytest.param(
            "policies/nopolicy.yaml",
            "apiVersion: reconciler.dev/v1\nkind: PolicyBinding\nmetadata: {name: b}\n"
            "spec:\n  enforcement: strict\n",
            "policies/nopolicy.yaml:4 spec.policy: required",
            id="missing-required",
        ),
        pytest.param(
            "policies/deploy.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: b}\n",
            "policies/deploy.yaml:2 kind: must be PolicyBinding, a Gatekeeper"
            " ConstraintTemplate or a constraint here",
            id="foreign-kind-in-policies",
        ),
        pytest.param(
            "workflows/late.yaml",
            WORKFLOW.replace("name: nightly-backup", "name: late").replace(
                "timeout: 5m", "timeout: 5 minutes"
            ),
            'workflows/late.yaml:8 spec.steps[0].timeout: must be a duration like "30s"',
            id="bad-duration",
        ),
        pytest.param(
            "data/list.yaml",
            "- a\n- b\n",
            "data/list.yaml:1: must be a mapping: its keys are merged under data",
            id="data-not-a-mapping",
        ),
        pytest.param(
            "data/broken.json",
            '{"a": 1,\n "b": }\n',
            "data/broken.json:2: Expecting value",
            id="malformed-json",
        ),
    ],
)
def test_a_bad_file_is_one_whole_problem_and_the_rest_still_loads(
    path: str, text: str, expected: str
) -> None:
    snap = load_with({path: text})
    assert messages(snap) == [expected]
    assert not snap.ok
    assert_good_loaded(snap)


def test_every_problem_of_a_file_is_reported_not_just_the_first() -> None:
    text = (
        "apiVersion: reconciler.dev/v1\nkind: Workflow\nmetadata: {name: bad}\nspec:\n"
        "  maxParallelism: many\n"
        "  steps:\n"
        "    - name: a\n      kind: http\n      command: [x]\n"
        "    - name: b\n      dependsOn: [a, c]\n      command: [y]\n      retries: 3\n"
    )
    snap = load_with({"workflows/bad.yaml": text})
    assert messages(snap) == [
        "workflows/bad.yaml:5 spec.maxParallelism: must be an integer",
        "workflows/bad.yaml:7 spec.steps[0].http: required when kind is http",
        "workflows/bad.yaml:9 spec.steps[0].command: only allowed when kind is command",
        'workflows/bad.yaml:11 spec.steps[1].dependsOn[1]: no step "c"',
        "workflows/bad.yaml:13 spec.steps[1].retries: unknown key",
    ]
    assert_good_loaded(snap)


def test_a_workflow_cycle_is_named() -> None:
    text = WORKFLOW.replace("name: nightly-backup", "name: cyclic").replace(
        '      command: ["tar", "czf"', '      dependsOn: [verify]\n      command: ["tar", "czf"'
    )
    snap = load_with({"workflows/cyclic.yaml": text})
    assert messages(snap) == [
        "workflows/cyclic.yaml:5 spec.steps: cycle: archive -> verify -> archive"
    ]
    assert [doc.name for doc, _ in snap.workflows] == ["nightly-backup"]


def test_duplicate_names_are_reported_on_the_second_naming_the_first() -> None:
    snap = load_with(
        {
            "resources/zz-copy.yaml": "# the same deployment again\n---\n"
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: default}\n",
            "workflows/other.yaml": WORKFLOW,
        }
    )
    assert messages(snap) == [
        "resources/zz-copy.yaml:3: duplicate Deployment/default/web,"
        " first defined at resources/web.yaml:1",
        "workflows/other.yaml:1: duplicate Workflow//nightly-backup,"
        " first defined at workflows/nightly.yaml:1",
    ]
    assert_good_loaded(snap)
    assert [doc.path for doc in snap.resources if doc.kind == "Deployment"] == [
        "resources/web.yaml"
    ]


def test_conflicting_data_keys_name_both_files_and_mappings_merge_deeply() -> None:
    snap = load_with(
        {
            "data/k8s-a.yaml": "k8s:\n  registries: [docker.io]\n",
            "data/k8s-b.json": '{"k8s": {"maxReplicas": 10}}',
            "data/zz.yaml": "owners: {}\nk8s:\n  registries: [ghcr.io]\n",
            "data/zz-teams.yml": "# late\nteams: []\n",
        }
    )
    assert messages(snap) == [
        "data/zz-teams.yml:2 teams: also defined in data/teams.yaml",
        "data/zz.yaml:3 k8s.registries: also defined in data/k8s-a.yaml",
    ]
    assert snap.data["k8s"] == {"registries": ["docker.io"], "maxReplicas": 10}
    assert snap.data["owners"] == {}
    assert_good_loaded(snap)


def test_a_huge_file_is_refused_from_its_listed_size_without_reading_it() -> None:
    tree = MemoryTree(
        {**GOOD, "resources/huge.yaml": b"x: 1\n"}, sizes={"resources/huge.yaml": 50 * yamlio.MiB}
    )
    snap = loader.load(tree)
    assert messages(snap) == [
        "resources/huge.yaml: file is 50.0 MiB, larger than the 5.0 MiB limit"
    ]
    assert "resources/huge.yaml" not in tree.reads
    assert_good_loaded(snap)


def test_the_size_limit_is_configurable() -> None:
    tree = MemoryTree({**GOOD, "data/big.yaml": "big: " + "x" * 2043 + "\n"})
    snap = loader.load(tree, limits=yamlio.Limits(max_file_bytes=1024))
    assert messages(snap) == ["data/big.yaml: file is 2.0 KiB, larger than the 1.0 KiB limit"]
    assert_good_loaded(snap)


def test_binary_and_non_utf8_files_are_named_by_offset_and_line() -> None:
    snap = load_with(
        {
            "resources/image.yaml": b"apiVersion: v1\n\x89PNG\x00\x00",
            "policies/latin1.rego": "package x\n# caf\xe9\n".encode("latin-1"),
        }
    )
    assert messages(snap) == [
        "policies/latin1.rego:2: not UTF-8 text (invalid byte at offset 15)",
        "resources/image.yaml:2: binary file (NUL byte at offset 19)",
    ]
    assert_good_loaded(snap)


def test_an_alias_bomb_is_refused_and_the_rest_still_loads() -> None:
    bomb = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        bomb += f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]\n"
    snap = load_with({"data/lol.yaml": bomb})
    assert messages(snap) == [
        "data/lol.yaml:1: aliases expand to 490329036 more nodes, over the limit of 100000"
        " (an alias bomb?)"
    ]
    assert_good_loaded(snap)


def test_tree_problems_are_included() -> None:
    escaping = Problem(path="resources/link.yaml", message="symlink escapes the repository")
    snap = loader.load(MemoryTree(GOOD, problems=[escaping]))
    assert messages(snap) == ["resources/link.yaml: symlink escapes the repository"]
    assert_good_loaded(snap)


@pytest.mark.parametrize("name", manifests.names())
def test_kubernetes_manifests_load_cleanly(name: str) -> None:
    data = (manifests.BOOKSHOP / name).read_bytes()
    snap = loader.load(MemoryTree({f"resources/{name}": data}))
    assert snap.problems == ()
    expected = data.count(b"\nkind:") + data.startswith(b"kind:")
    assert len(snap.resources) == expected
    assert {doc.kind for doc in snap.resources} <= {"Deployment", "Service"}


def test_multi_document_lines_and_trailing_comments() -> None:
    data = (manifests.BOOKSHOP / manifests.ALL_IN_ONE).read_text() + "---\n# nothing more\n"
    snap = loader.load(MemoryTree({"resources/all.yaml": data}))
    assert snap.problems == ()
    assert [(doc.index, doc.line, doc.key) for doc in snap.resources] == [
        (0, 2, "Service//cache"),  # after the file's opening comment
        (1, 15, "Deployment//cache"),  # after `--- # the cache itself`
        (2, 38, "Service//catalog"),
        (3, 51, "Deployment//catalog"),
        (4, 74, "Service//web"),
        (5, 89, "Deployment//web"),
    ]


def test_a_cache_hit_reads_and_parses_nothing() -> None:
    cache = loader.SpecCache()
    first = MemoryTree(GOOD)
    snap1 = loader.load(first, cache=cache)
    assert len(first.reads) == 7 and cache.misses == 7  # README and providers/ are not read

    again = MemoryTree(GOOD)
    snap2 = loader.load(again, cache=cache)
    assert again.reads == []
    assert cache.hits == 7
    assert snap2 == snap1

    changed = MemoryTree({**GOOD, "data/teams.yaml": "teams: [platform]\n"})
    snap3 = loader.load(changed, cache=cache)
    assert changed.reads == ["data/teams.yaml"]
    assert snap3.data == {"teams": ["platform"]}


def test_a_renamed_file_served_from_the_cache_keeps_its_new_path() -> None:
    cache = loader.SpecCache()
    bad = "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n"
    loader.load(
        MemoryTree({"resources/a.yaml": bad, "resources/ok.yaml": GOOD["resources/web.yaml"]}),
        cache=cache,
    )
    tree = MemoryTree({"resources/b.yaml": bad, "resources/moved.yaml": GOOD["resources/web.yaml"]})
    snap = loader.load(tree, cache=cache)
    assert tree.reads == []
    assert messages(snap) == ["resources/b.yaml:3 metadata.name: required"]
    assert [doc.path for doc in snap.resources] == ["resources/moved.yaml"]


def test_the_cache_is_bounded() -> None:
    cache = loader.SpecCache(max_entries=3)
    loader.load(MemoryTree(GOOD), cache=cache)
    assert len(cache) == 3


def test_the_data_merge_does_not_change_cached_documents() -> None:
    cache = loader.SpecCache()
    files = {"data/a.yaml": "k8s: {a: 1}\n", "data/b.yaml": "k8s: {b: 2}\n"}
    loader.load(MemoryTree(files), cache=cache)
    only_a = loader.load(MemoryTree({"data/a.yaml": files["data/a.yaml"]}), cache=cache)
    assert only_a.data == {"k8s": {"a": 1}}


def test_the_example_repository_on_disk_loads_cleanly_with_a_directory_tree(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(REPO_TEMPLATE, repo)
    os.symlink("/etc/hostname", repo / "resources" / "outside.yaml")
    snap = loader.load(DirectoryTree(repo))
    assert messages(snap) == [
        "resources/outside.yaml: symlink escapes the repository (-> /etc/hostname)"
    ]
    assert [doc.name for doc, _ in snap.workflows] == ["nightly-backup"]
    assert {doc.name for doc, _ in snap.runbooks} == {
        "disk-full",
        "rotate-logs",
        "scale-web-service",
    }
    assert len(snap.constraint_templates) == 1 and len(snap.constraints) == 1
    assert snap.bindings and snap.rego and snap.data


UNSAID_BINDING = (
    "apiVersion: reconciler.dev/v1\nkind: PolicyBinding\n"
    "metadata: {name: unsaid}\nspec: {policy: k8s.required_labels}\n"
)


def settings_yaml(spec: str) -> str:
    head = "apiVersion: reconciler.dev/v1\nkind: Settings\nmetadata: {name: repo}\n"
    return f"{head}spec: {spec}\n"


@pytest.mark.parametrize("default", ["advisory", "monitor", "strict"])
def test_bindings_that_do_not_say_take_the_default_enforcement(default: str) -> None:
    snap = load_with(
        {
            "reconciler.yaml": settings_yaml(f"{{defaultEnforcement: {default}}}"),
            "policies/unsaid.yaml": UNSAID_BINDING,
        }
    )
    assert messages(snap) == []
    enforcement = {doc.name: binding.spec.enforcement for doc, binding in snap.bindings}
    assert enforcement == {"require-owner-labels": "advisory", "unsaid": default}


def test_without_a_default_enforcement_bindings_are_strict() -> None:
    snap = load_with({"policies/unsaid.yaml": UNSAID_BINDING})
    assert {doc.name: b.spec.enforcement for doc, b in snap.bindings}["unsaid"] == "strict"


def test_a_gradual_default_enforcement_is_refused_and_the_rest_still_loads() -> None:
    snap = load_with({"reconciler.yaml": settings_yaml("{defaultEnforcement: gradual}")})
    assert messages(snap) == [
        "reconciler.yaml:4 spec.defaultEnforcement: cannot be gradual: a gradual binding "
        "needs its own deadline"
    ]
    assert [doc.key for doc in snap.resources] == ["File//motd", "Deployment/default/web"]
