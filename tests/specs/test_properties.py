"""Property: whatever a revision holds, `load` returns a snapshot and never raises."""

from __future__ import annotations

import json

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.specs import loader
from tests.specs.conftest import MemoryTree

PATHS = [
    "reconciler.yaml",
    "policies/p.yaml",
    "policies/p.rego",
    "data/d.yaml",
    "data/d.json",
    "resources/r.yaml",
    "resources/sub/r.yml",
    "workflows/w.yaml",
    "runbooks/r.yaml",
]
PIECES = [*"ab:-[]{}&*!|>?,#'\"\n \t.01%@`\\\x00\ufeff", "---\n", "<<: ", "&a ", "*a", "  ", "\n- "]

yamlish = st.lists(st.sampled_from(PIECES), max_size=100).map("".join).map(str.encode)
scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["name", "kind", "spec", "steps", "x", "dependsOn"]), inner, max_size=4
        )
    ),
    max_leaves=20,
)
KINDS = ["Settings", "PolicyBinding", "Workflow", "Runbook", "File", "ExecResource", "Deployment"]
envelopes = st.fixed_dictionaries(
    {
        "apiVersion": st.sampled_from(
            ["reconciler.dev/v1", "apps/v1", "constraints.gatekeeper.sh/v1"]
        ),
        "kind": st.sampled_from(KINDS),
        "metadata": st.fixed_dictionaries({"name": st.sampled_from(["a", "b", "-bad-"])}),
    },
    optional={"spec": json_values},
).map(lambda doc: yaml.safe_dump(doc).encode())
contents = (
    st.binary(max_size=200)
    | yamlish
    | envelopes
    | json_values.map(lambda v: json.dumps(v).encode())
)


@settings(max_examples=200, deadline=None)
@given(files=st.dictionaries(st.sampled_from(PATHS), contents, max_size=6))
def test_load_never_raises_and_reports_problems_as_records(files: dict[str, bytes]) -> None:
    snap = loader.load(MemoryTree(files))
    assert all(problem.path in files for problem in snap.problems)
    assert all(str(problem) for problem in snap.problems)
    loaded = [doc.path for doc in snap.resources] + [doc.path for doc, _ in snap.workflows]
    assert set(loaded) <= set(files)


@settings(max_examples=50, deadline=None)
@given(files=st.dictionaries(st.sampled_from(PATHS), contents, max_size=6))
def test_a_cached_load_equals_a_fresh_one(files: dict[str, bytes]) -> None:
    cache = loader.SpecCache()
    loader.load(MemoryTree(files), cache=cache)
    assert loader.load(MemoryTree(files), cache=cache) == loader.load(MemoryTree(files))
