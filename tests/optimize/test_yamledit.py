"""Round-trip edits: one value changes, every comment, quote and blank line stays."""

from __future__ import annotations

import pytest

from reconciler.optimize import yamledit

DOC = """\
# The storefront.
apiVersion: example.dev/v1   # a foreign kind
kind: WebApp
metadata:
  name: 'web'

spec:
  # cores per replica
  cpu: 2.0
  replicas: 3   # zone spread
"""


def test_only_the_value_changes() -> None:
    text, old = yamledit.set_field(DOC, path="r.yaml", index=0, field="spec.cpu", value=0.42)
    assert old == 2.0
    assert text == DOC.replace("cpu: 2.0", "cpu: 0.42")


def test_the_right_document_of_several_is_edited() -> None:
    multi = f"---\n{DOC}---\nkind: Other\nspec:\n  cpu: 1   # keep\n"
    text, old = yamledit.set_field(multi, path="r.yaml", index=1, field="spec.cpu", value=3)
    assert old == 1
    assert text == multi.replace("cpu: 1 ", "cpu: 3 ")


@pytest.mark.parametrize(
    ("index", "field", "message"),
    [
        (1, "spec.cpu", "r.yaml: no document #1"),
        (0, "spec.cpu.cores", "r.yaml: spec.cpu: not a mapping or list in the document"),
        (0, "status.cpu", "r.yaml: status: not a mapping or list in the document"),
    ],
)
def test_a_field_that_is_not_there_is_named(index: int, field: str, message: str) -> None:
    with pytest.raises(yamledit.EditFailed) as caught:
        yamledit.set_field(DOC, path="r.yaml", index=index, field=field, value=1)
    assert str(caught.value) == message


@pytest.mark.parametrize("dash", ["", "  "])
def test_block_sequences_keep_their_indentation(dash: str) -> None:
    text = f"spec:\n  cpu: 1\n  items:\n{dash}  - name: a\n{dash}    size: 2\n"
    edited, _ = yamledit.set_field(text, path="r.yaml", index=0, field="spec.cpu", value=3)
    assert edited == text.replace("cpu: 1", "cpu: 3")


def test_a_number_key_indexes_a_sequence() -> None:
    text = "spec:\n  steps:\n    - name: a\n    - name: b\n      retry: {backoff: 1s}  # flaky\n"
    edited, old = yamledit.set_field(
        text, path="w.yaml", index=0, field="spec.steps.1.retry.backoff", value="7s"
    )
    assert old == "1s"
    assert edited == text.replace("backoff: 1s}", "backoff: 7s}")
    with pytest.raises(yamledit.EditFailed) as caught:
        yamledit.set_field(text, path="w.yaml", index=0, field="spec.steps.2.retry", value=1)
    assert str(caught.value) == "w.yaml: spec.steps.2: not a mapping or list in the document"


def test_an_entry_is_appended_to_a_list_made_when_absent() -> None:
    entry = {"name": "accepted", "reason": "approved each time"}
    text, olds = yamledit.edit(
        DOC,
        path="r.yaml",
        index=0,
        edits=[
            yamledit.Edit(field="spec.exceptions", value=entry, append=True),
            yamledit.Edit(field="spec.exceptions", value={"name": "second"}, append=True),
        ],
    )
    assert olds == [[], [entry]]
    assert text == DOC + (
        "  exceptions:\n  - name: accepted\n    reason: approved each time\n  - name: second\n"
    )


def test_missing_mappings_are_made_only_when_asked() -> None:
    deadline = yamledit.Edit(field="spec.gradual.deadline", value="2027-01-01T00:00:00Z")
    with pytest.raises(yamledit.EditFailed) as caught:
        yamledit.edit(DOC, path="r.yaml", index=0, edits=[deadline])
    assert str(caught.value) == "r.yaml: spec.gradual: not a mapping or list in the document"
    made = yamledit.Edit(field=deadline.field, value=deadline.value, create=True)
    text, olds = yamledit.edit(DOC, path="r.yaml", index=0, edits=[made])
    assert olds == [None]
    assert text == DOC + "  gradual:\n    deadline: '2027-01-01T00:00:00Z'\n"


def test_appending_to_what_is_not_a_list_is_refused() -> None:
    with pytest.raises(yamledit.EditFailed) as caught:
        yamledit.edit(
            DOC,
            path="r.yaml",
            index=0,
            edits=[yamledit.Edit(field="spec.cpu", value=1, append=True)],
        )
    assert str(caught.value) == "r.yaml: spec.cpu: not a list in the document"


@pytest.mark.parametrize(
    ("edits", "holds"),
    [
        ([yamledit.Edit(field="spec.cpu", value=2.0)], True),
        ([yamledit.Edit(field="spec.cpu", value=0.42)], False),
        (
            [yamledit.Edit(field="spec.cpu", value=2.0), yamledit.Edit(field="spec.x", value=1)],
            False,
        ),
        ([yamledit.Edit(field="spec.cpu.deep", value=2.0)], False),
        ([yamledit.Edit(field="spec.tags", value="a", append=True)], False),
    ],
)
def test_holds_tells_whether_a_document_already_has_the_edits(
    edits: list[yamledit.Edit], holds: bool
) -> None:
    assert yamledit.holds(DOC, path="r.yaml", index=0, edits=edits) is holds


def test_holds_finds_an_appended_entry_and_refuses_what_is_not_yaml() -> None:
    entry = {"name": "late", "reason": "why"}
    edit = yamledit.Edit(field="spec.exceptions", value=entry, append=True)
    text, _ = yamledit.edit(DOC, path="r.yaml", index=0, edits=[edit])
    assert yamledit.holds(text, path="r.yaml", index=0, edits=[edit])
    assert not yamledit.holds(DOC, path="r.yaml", index=0, edits=[edit])
    assert not yamledit.holds(text, path="r.yaml", index=1, edits=[edit])
    assert not yamledit.holds("a: [", path="r.yaml", index=0, edits=[edit])
