"""When a failed step attempt is tried again, and after how long.

The delay of attempt n (1-based, the attempt that failed) is `backoff * 2**(n-1)` capped at
`maxBackoff`; with jitter it is drawn uniformly from the upper half of that ("equal
jitter"), so many runs failing together spread out while each still waits at least half.
The random source is injected, so tests assert exact delays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reconciler.run import expressions
from reconciler.specs import flows, types


@dataclass(frozen=True, kw_only=True)
class Failure:
    """What is known about a failed attempt, as retry conditions see it."""

    exit_code: int | None = None
    timed_out: bool = False
    retryable: bool = True  # False for errors only a spec change can fix


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    max_attempts: int = 1
    backoff: float = 1.0
    max_backoff: float | None = None
    jitter: bool = True
    on: tuple[str, ...] = ()

    @classmethod
    def of(cls, spec: flows.Retry | None) -> RetryPolicy:
        if spec is None:
            return cls()
        for condition in spec.on:
            expressions.parse(condition)
        return cls(
            max_attempts=spec.max_attempts,
            backoff=types.seconds(spec.backoff),
            max_backoff=None if spec.max_backoff is None else types.seconds(spec.max_backoff),
            jitter=spec.jitter,
            on=tuple(spec.on),
        )

    def delay(self, *, attempt: int, rand: Callable[[], float]) -> float:
        """Seconds to wait after failed attempt `attempt` before the next one."""
        base = self.backoff * 2.0 ** (attempt - 1)
        if self.max_backoff is not None:
            base = min(base, self.max_backoff)
        return base / 2 + base / 2 * rand() if self.jitter else base

    def should_retry(self, *, attempt: int, failure: Failure) -> bool:
        if attempt >= self.max_attempts or not failure.retryable:
            return False
        if not self.on:
            return True
        scope = {"exitCode": failure.exit_code, "timeout": failure.timed_out, "failed": True}
        return any(expressions.truthy(condition, scope) for condition in self.on)
