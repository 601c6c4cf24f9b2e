"""Reading untrusted YAML: limits, bombs, encodings, JSON-like data, lines of key paths."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.errors import ProblemsError
from reconciler.source.revision import FileEntry
from reconciler.specs import yamlio

LIMITS = yamlio.Limits()


def read(text: str) -> tuple[list[object], list[str]]:
    result = yamlio.load_all(text, path="f.yaml", limits=LIMITS)
    return [doc.data for doc in result.documents], [str(p) for p in result.problems]


def test_size_is_checked_from_the_listing() -> None:
    entry = FileEntry(path="resources/huge.yaml", blob_id="0" * 40, size=50 * yamlio.MiB)
    problem = yamlio.size_problem(entry, limits=LIMITS)
    assert str(problem) == "resources/huge.yaml: file is 50.0 MiB, larger than the 5.0 MiB limit"
    small = FileEntry(path="a.yaml", blob_id="0" * 40, size=5 * yamlio.MiB)
    assert yamlio.size_problem(small, limits=LIMITS) is None


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"a: 1\nb: \x00\x01", "f.yaml:2: binary file (NUL byte at offset 8)"),
        (b"a: 1\n\nb: caf\xe9\n", "f.yaml:3: not UTF-8 text (invalid byte at offset 12)"),
        (b"\xff\xfea\x00", "f.yaml:1: binary file (NUL byte at offset 3)"),
    ],
)
def test_binary_and_non_utf8_bytes_are_refused_by_offset_and_line(
    data: bytes, expected: str
) -> None:
    with pytest.raises(ProblemsError) as caught:
        yamlio.decode(data, path="f.yaml")
    assert str(caught.value) == expected


def test_a_utf8_byte_order_mark_is_dropped() -> None:
    assert yamlio.decode("\ufeffa: é\n".encode(), path="f.yaml") == "a: é\n"


def test_documents_keep_their_index_and_first_line_and_empty_ones_are_skipped() -> None:
    result = yamlio.load_all("---\n# c\na: 1\n---\n---\n\nb: 2\n# end\n", path="f", limits=LIMITS)
    assert [(d.index, d.line, d.data) for d in result.documents] == [
        (0, 3, {"a": 1}),
        (2, 7, {"b": 2}),
    ]
    assert result.problems == ()


def test_data_is_json_like_timestamps_stay_text_and_keys_become_strings() -> None:
    docs, problems = read("at: 2027-01-31T00:00:00Z\nday: 2001-13-45\n80: http\nnull: x\n")
    assert docs == [{"at": "2027-01-31T00:00:00Z", "day": "2001-13-45", "80": "http", "null": "x"}]
    assert problems == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "a: 1\nb: [1, 2\n",
            "f.yaml:3: did not find expected ',' or ']' (while parsing a flow sequence at line 2)",
        ),
        ("a: 1\n  b: 2\n", "f.yaml:2: mapping values are not allowed in this context"),
        ("a: *nothing\n", "f.yaml:1: found undefined alias"),
        ("a: !Ref x\n", "f.yaml:1: could not determine a constructor for the tag '!Ref'"),
        ("a: !!set {x, y}\n", "f.yaml:1: YAML tag !!set is not supported here"),
        (
            "a: " + "1" * 5000 + "\n",
            "f.yaml:1: cannot read a value: Exceeds the limit (4300"
            " digits) for integer string conversion: value has 5000 digits",
        ),
        ("&a [*a]\n", "f.yaml:1: an alias refers to a node that contains it (recursive data)"),
    ],
)
def test_bad_yaml_is_one_problem_with_its_line(text: str, expected: str) -> None:
    assert read(text) == ([], [expected])


def test_documents_before_a_syntax_error_are_kept() -> None:
    assert read("a: 1\n---\nb: [\n") == (
        [{"a": 1}],
        ["f.yaml:4: did not find expected node content (while parsing a flow node at line 4)"],
    )


def test_the_billion_laughs_is_refused_quickly() -> None:
    bomb = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        bomb += f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]\n"
    assert read(bomb) == (
        [],
        [
            "f.yaml:1: aliases expand to 490329036 more nodes, over the limit of 100000"
            " (an alias bomb?)"
        ],
    )


def test_a_merge_key_bomb_is_refused_before_it_is_built() -> None:
    # Merge keys copy pairs while building, so this grows as 9**40 if built at all.
    text = "l0: &l0 {x: 1}\n"
    for i in range(1, 40):
        text += f"l{i}: &l{i}\n  <<: [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n"
    docs, problems = read(text)
    assert docs == []
    assert len(problems) == 1
    assert problems[0].startswith("f.yaml:1: aliases expand to ")
    assert problems[0].endswith(" more nodes, over the limit of 100000 (an alias bomb?)")


def test_modest_alias_use_is_fine() -> None:
    docs, problems = read("base: &base {image: nginx}\nweb: {<<: *base, replicas: 2}\nx: *base\n")
    assert docs == [
        {
            "base": {"image": "nginx"},
            "web": {"image": "nginx", "replicas": 2},
            "x": {"image": "nginx"},
        }
    ]
    assert problems == []


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        "- " * 100_000 + "x\n",
        # Just past the limit, where libyaml (PyYAML >= 6.0.4) stops with its own error first.
        "[" * 1001 + "]" * 1001,
        "- " * 1001 + "x\n",
        "{a: " * 1001 + "1" + "}" * 1001,
        "a: [" + "[" * 1000 + "]" * 1001 + "\n",
    ],
    ids=["flow", "block", "flow-1001", "block-1001", "mapping-1001", "under-a-key-1001"],
)
def test_nesting_deeper_than_the_limit_is_refused_without_crashing(text: str) -> None:
    """Our own message whichever PyYAML reads it (newer ones have a nesting limit too)."""
    assert read(text) == ([], ["f.yaml:1: nested deeper than the limit of 1000"])


def test_nesting_up_to_the_limit_is_read() -> None:
    docs, problems = read("[" * 1000 + "]" * 1000)
    assert problems == []
    assert len(docs) == 1


def test_a_syntax_error_in_a_deep_file_is_reported_as_such() -> None:
    """The parser's own message (its wording is PyYAML's, so only its place is compared)."""
    docs, problems = read("- " * 999 + "x\n" + "a: [1, 2\n")
    assert docs == []
    assert [p.split(": ", 1)[0] for p in problems] == ["f.yaml:2"]
    assert "nested deeper" not in problems[0]


def test_locate_finds_the_line_of_a_key_path_or_its_deepest_existing_part() -> None:
    text = "a: 0\n---\nspec:\n  steps:\n  - name: x\n  - name: y\n\n    timeout: 3\n"
    assert yamlio.locate(text, index=1, loc=("spec", "steps", 1, "timeout")) == 8
    assert yamlio.locate(text, index=1, loc=("spec", "steps", 1, "missing")) == 6
    assert yamlio.locate(text, index=1, loc=("spec", "steps", 7)) == 4
    assert yamlio.locate(text, index=5, loc=("spec",)) is None


def test_key_path_renders_indexes_in_brackets() -> None:
    assert yamlio.key_path(("spec", "steps", 2, "timeout")) == "spec.steps[2].timeout"
    assert yamlio.key_path((0, "a")) == "[0].a"
    assert yamlio.key_path(()) == ""


YAML_PIECES = [*"ab:-[]{}&*!|>?,#'\"\n \t.01%@`\\\x00\x85\ufeff", "---", "<<", "&a ", "*a", "  "]
yamlish = st.lists(st.sampled_from(YAML_PIECES), max_size=120).map("".join)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300) | yamlish.map(str.encode))
def test_yamlio_raises_nothing_but_problems_on_any_input(data: bytes) -> None:
    try:
        text = yamlio.decode(data, path="f.yaml")
    except ProblemsError as exc:
        assert exc.problems
        return
    result = yamlio.load_all(text, path="f.yaml", limits=LIMITS)
    for doc in result.documents:
        yamlio.locate(text, index=doc.index, loc=("spec", 0, "x"))
    assert all(p.path == "f.yaml" for p in result.problems)
