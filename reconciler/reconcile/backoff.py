"""Per-object exponential backoff: an object whose apply keeps failing is retried later and
later (base * 2^(failures-1), capped), without holding back the objects around it."""

from __future__ import annotations

from datetime import datetime, timedelta


class Backoff:
    def __init__(self, *, base: float, maximum: float) -> None:
        self.base, self.maximum = base, maximum
        self._failures: dict[str, int] = {}
        self._not_before: dict[str, datetime] = {}

    def waiting(self, key: str, now: datetime) -> bool:
        """True while `key` must not be retried yet."""
        until = self._not_before.get(key)
        return until is not None and now < until

    def failed(self, key: str, now: datetime) -> float:
        """Record a failure; returns the delay in seconds before the next attempt."""
        count = self._failures.get(key, 0) + 1
        self._failures[key] = count
        delay = min(self.maximum, self.base * 2.0 ** (count - 1))
        self._not_before[key] = now + timedelta(seconds=delay)
        return delay

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)
        self._not_before.pop(key, None)

    def failures(self, key: str) -> int:
        return self._failures.get(key, 0)
