"""The daemon's log format: text lines for people, or JSON lines for log collectors.

Both carry the same records. A record may carry structured fields (`extra={"fields":
{...}}`, as the event log does: object, policy, revision...); a JSON line holds them as
keys beside `time`, `level`, `logger` and `message`, so a collector can filter on them
without parsing the message.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonLines(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update({k: v for k, v in fields.items() if k not in line})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class _Stderr(logging.StreamHandler[Any]):
    """Writes to whatever `sys.stderr` is when a record is emitted, not the stream it was
    when the handler was made: a process that swaps stderr (a host embedding the CLI, a
    test capturing it) never gets records written into a closed stream."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure(*, json_lines: bool) -> None:
    """Log at info to stderr in the chosen format (APScheduler's chatter at warning)."""
    handler = _Stderr()
    handler.setFormatter(JsonLines() if json_lines else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
