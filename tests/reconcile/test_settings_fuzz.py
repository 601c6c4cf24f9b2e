"""Property: whatever a daemon settings file holds, `settings.load` returns settings or
raises `ProblemsError` naming the file, never another exception."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.errors import ProblemsError
from reconciler.reconcile import settings as daemon_settings

PIECES = [*"ab:-[]{}&*!|>?,#'\"\n \t.01%@`\\\x00\ufeff", "---\n", "<<: ", "&a ", "*a", "\n- "]
KEYS = ["sources", "http", "simulations", "retention", "auth", "name", "path", "maxQueued"]
scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner),
    max_leaves=15,
)
texts = (
    st.lists(st.sampled_from(PIECES), max_size=80).map("".join)
    | values.map(lambda v: yaml.safe_dump(v))
    | st.binary(max_size=100).map(lambda b: b.decode("latin-1"))
)


@settings(max_examples=100, deadline=None)
@given(text=texts)
def test_a_settings_file_loads_or_names_its_problems(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "reconciler.yaml")
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            daemon_settings.load(path)
        except ProblemsError as exc:
            assert all(p.path == str(path) for p in exc.problems)
