"""Recorded outcomes as evidence: how often each option succeeded in a context bucket."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Protocol


class History(Protocol):
    """Outcome counts per option in a bucket: `{option name: (successes, failures)}`."""

    def counts(self, bucket: str, options: Sequence[str]) -> dict[str, tuple[float, float]]: ...


class MemoryHistory:
    """Outcome counts kept in memory, built from `(bucket, option, succeeded)` triples."""

    def __init__(self, outcomes: Iterable[tuple[str, str, bool]] = ()) -> None:
        self._counts: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
        for bucket, option, succeeded in outcomes:
            self.record(bucket, option, succeeded)

    def record(self, bucket: str, option: str, succeeded: bool) -> None:
        self._counts[(bucket, option)][0 if succeeded else 1] += 1

    def counts(self, bucket: str, options: Sequence[str]) -> dict[str, tuple[float, float]]:
        found = {o: self._counts.get((bucket, o)) for o in options}
        return {o: (c[0], c[1]) for o, c in found.items() if c is not None}
