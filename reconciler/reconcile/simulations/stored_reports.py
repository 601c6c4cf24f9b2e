"""Bounds on the simulation reports the daemon stores: one report, and all of them.

A report quotes the pull request (messages, names, paths) and grows with the repository,
so it is stored whole only up to `simulations.maxReportKib` (its JSON and its Markdown
parts together). A larger one keeps the Markdown parts that fit, then a part saying how
many were left out, and its JSON becomes a stub with the verdict, the blocking reasons and
`truncated` (why); `reconciler simulate` recomputes the whole report. All stored reports
together are held to `simulations.maxReportsMib` by the store, the oldest finished
simulations losing theirs first (their records stay).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from reconciler.store.interfaces import SimulationRecord

TRUNCATED = "truncated"
"""The key of a stub report, saying why the report was cut."""
_KEPT = ("base", "head", "blocked", "blockingReasons")


def size(record: SimulationRecord) -> int:
    """Bytes of the record's report: its JSON and its Markdown parts."""
    report = 0 if record.report is None else len(_json(record.report))
    return report + sum(len(part.encode()) for part in record.markdown)


def bounded(record: SimulationRecord, *, max_bytes: int) -> SimulationRecord:
    """`record` as stored: whole when its report fits in `max_bytes`, else cut and marked."""
    total = size(record)
    if total <= max_bytes:
        return record
    why = (
        f"the report ({total} bytes) is over the {max_bytes // 1024} KiB limit of a stored "
        "report (simulations.maxReportKib); run `reconciler simulate` for all of it"
    )
    stub = {k: v for k, v in (record.report or {}).items() if k in _KEPT} | {TRUNCATED: why}
    room = max_bytes - len(_json(stub))
    parts: list[str] = []
    for part in record.markdown:
        room -= len(part.encode())
        if room < _MARKER_ROOM:
            break
        parts.append(part)
    left = len(record.markdown) - len(parts)
    parts.append(f"**… {left} more part{'' if left == 1 else 's'} left out: {why}.**\n")
    return dataclasses.replace(record, report=stub, markdown=tuple(parts))


def is_stub(report: dict[str, Any] | None) -> bool:
    return report is not None and TRUNCATED in report


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


_MARKER_ROOM = 512  # the closing part
