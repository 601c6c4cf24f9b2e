"""Property: on any chain, one edit, removal or swap is found at the position it was made."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from reconciler.store import audit

DATA = st.dictionaries(
    st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=8), st.booleans()), max_size=3
)


def chain(payloads: list[dict[str, object]]) -> list[audit.AuditEntry]:
    entries: list[audit.AuditEntry] = []
    for n, data in enumerate(payloads, start=1):
        entries.append(
            audit.link(
                seq=n,
                prev_hash=entries[-1].hash if entries else audit.GENESIS,
                id=f"id-{n}",
                at=f"2026-03-01T12:00:{n % 60:02d}+00:00",
                type="ResourceApplied",
                subject=f"File//r{n}",
                data=data,
            )
        )
    return entries


@given(st.lists(DATA, max_size=30))
def test_an_untouched_chain_is_intact(payloads: list[dict[str, object]]) -> None:
    entries = chain(payloads)
    found = audit.walk(entries)
    assert found.intact
    assert found.count == len(entries)
    assert found.head == (entries[-1].hash if entries else audit.GENESIS)


@given(st.lists(DATA, min_size=1, max_size=30), st.data())
def test_an_edit_is_found_where_it_was_made(
    payloads: list[dict[str, object]], data: st.DataObject
) -> None:
    entries = chain(payloads)
    at = data.draw(st.integers(0, len(entries) - 1))
    field = data.draw(st.sampled_from(["data", "at", "type", "subject", "actor", "id"]))
    original = entries[at]
    value = {"tampered": True} if field == "data" else getattr(original, field) + "x"
    entries[at] = dataclasses.replace(original, **{field: value})
    found = audit.walk(entries)
    assert (found.breach, found.seq, found.id) == (audit.Breach.EDITED, at + 1, entries[at].id)
    assert found.count == at


@given(st.lists(DATA, min_size=2, max_size=30), st.data())
def test_a_removal_is_found_where_it_was_made(
    payloads: list[dict[str, object]], data: st.DataObject
) -> None:
    entries = chain(payloads)
    # The last entry's removal leaves a shorter intact chain: only an anchor shows it.
    at = data.draw(st.integers(0, len(entries) - 2))
    del entries[at]
    found = audit.walk(entries)
    assert (found.breach, found.seq, found.id) == (audit.Breach.REMOVED, at + 1, entries[at].id)


@given(st.lists(DATA, min_size=2, max_size=30), st.data())
def test_a_swap_is_found_at_the_first_of_the_two(
    payloads: list[dict[str, object]], data: st.DataObject
) -> None:
    entries = chain(payloads)
    first = data.draw(st.integers(0, len(entries) - 2))
    second = data.draw(st.integers(first + 1, len(entries) - 1))
    a, b = entries[first], entries[second]
    # As in the table: the rows trade positions, each keeping its own hashes and fields.
    entries[first] = dataclasses.replace(b, seq=a.seq)
    entries[second] = dataclasses.replace(a, seq=b.seq)
    found = audit.walk(entries)
    assert (found.breach, found.seq, found.id) == (audit.Breach.REORDERED, first + 1, b.id)
