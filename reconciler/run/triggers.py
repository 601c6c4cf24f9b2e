"""When a workflow's event triggers fire: metric thresholds, Git path filters, Prometheus.

A metric trigger polls a PromQL query through the Prometheus HTTP API
(`GET /api/v1/query`) and compares each returned sample with a threshold. Like a
Prometheus alert, the condition must hold for the trigger's `for:` duration before it
fires; it fires once per breach and re-arms only after the condition cleared. A Git
trigger fires when a new revision changed a path matching one of its globs, where `*`
and `?` stay inside one path segment and `**` spans any number of them.
"""

from __future__ import annotations

import functools
import operator
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from reconciler import httpclient
from reconciler.errors import TransientError
from reconciler.specs import flows, types

OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


class PrometheusSettings(BaseModel):
    """Where metric triggers read their queries (`settings.prometheus`)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, alias_generator=to_camel
    )

    url: str | None = None
    """Base URL of the Prometheus server, e.g. http://127.0.0.1:9090; none: metric
    triggers are not evaluated."""
    interval: types.Duration = "15s"
    """How often every metric trigger's query is evaluated."""
    timeout: types.Duration = "10s"


class QueryFailed(TransientError):
    """Prometheus could not be asked, or answered with an error."""


@dataclass(frozen=True, kw_only=True)
class Sample:
    labels: dict[str, str]
    value: float


class Prometheus:
    """A client of the Prometheus HTTP API; `query` blocks, call it off the event loop."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url, self.timeout = url.rstrip("/"), timeout

    def query(self, expression: str) -> list[Sample]:
        """The instant vector (or scalar) `expression` evaluates to now."""
        return samples(self._get("query", expression, {}))

    def query_range(self, expression: str, *, lookback: float, step: float) -> list[list[float]]:
        """Each series' values over the last `lookback` seconds, every `step` seconds."""
        end = time.time()
        return self.query_window(expression, start=end - lookback, end=end, step=step)

    def query_window(
        self, expression: str, *, start: float, end: float, step: float
    ) -> list[list[float]]:
        """Each series' values from `start` to `end` (Unix seconds), every `step` seconds."""
        bounds = {"start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        return ranges(self._get("query_range", expression, bounds))

    def _get(self, endpoint: str, expression: str, extra: dict[str, str]) -> dict[str, Any]:
        try:
            response = httpclient.request(
                "GET",
                f"{self.url}/api/v1/{endpoint}",
                params={"query": expression, **extra},
                timeout=self.timeout,
            )
        except httpclient.HttpFailed as exc:
            raise QueryFailed(f"prometheus at {self.url}: {exc.reason}") from None
        answer = _answer(response)
        if not isinstance(answer, dict) or answer.get("status") != "success":
            error = answer.get("error") if isinstance(answer, dict) else answer
            raise QueryFailed(f"prometheus query {expression!r}: {error}")
        data = answer.get("data")
        return data if isinstance(data, dict) else {}


def _answer(response: httpclient.Response) -> Any:
    """The decoded answer; Prometheus sends its errors as JSON too (with a 4xx or 5xx)."""
    try:
        return response.json()
    except ValueError:
        if response.ok:
            raise QueryFailed(f"prometheus at {response.url}: the answer is not JSON") from None
        return {"status": "error", "error": f"HTTP {response.status}"}


def ranges(data: dict[str, Any]) -> list[list[float]]:
    """The value series of a range query result (`matrix`; others give none)."""
    if data.get("resultType") != "matrix" or not isinstance(data.get("result"), list):
        return []
    return [[float(v) for _, v in item.get("values") or []] for item in data["result"]]


def samples(data: dict[str, Any]) -> list[Sample]:
    """The samples of a query result (`vector` or `scalar`; others give none)."""
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list):
        return [Sample(labels={}, value=float(result[1]))]
    if kind != "vector" or not isinstance(result, list):
        return []
    return [
        Sample(labels=dict(item.get("metric") or {}), value=float(item["value"][1]))
        for item in result
    ]


def holds(trigger: flows.MetricTrigger, found: Iterable[Sample]) -> bool:
    """Whether any sample meets the trigger's condition (no samples: it does not)."""
    compare = OPS[trigger.op]
    return any(compare(s.value, trigger.value) for s in found)


class Breach:
    """One metric trigger's state: since when its condition holds, and whether it fired."""

    def __init__(self, trigger: flows.MetricTrigger | flows.AnomalyTrigger) -> None:
        self.trigger = trigger
        self.hold = types.seconds(trigger.for_) if trigger.for_ else 0.0
        self.since: datetime | None = None
        self.fired = False

    def observe(self, *, holding: bool, now: datetime) -> bool:
        """Feed one evaluation; True exactly when the workflow should start now."""
        if not holding:
            self.since, self.fired = None, False
            return False
        if self.since is None:
            self.since = now
        if self.fired or (now - self.since).total_seconds() < self.hold:
            return False
        self.fired = True
        return True


@functools.lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """A path glob as a regular expression: `*`, `?` within a segment, `**` across."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def paths_match(patterns: Sequence[str], changed: Iterable[str]) -> bool:
    """Whether a change touching `changed` concerns a trigger filtering on `patterns`."""
    paths = [p.lstrip("/") for p in changed]
    if not patterns:
        return bool(paths)
    compiled = [glob_regex(p.lstrip("/")) for p in patterns]
    return any(r.match(path) for r in compiled for path in paths)
