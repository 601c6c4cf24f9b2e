"""Bounds on what crosses from the sandbox into the daemon: the head revision's policies
choose their messages, so a message is cut at `MESSAGE_CHARS` characters and a decision's
list of messages at `MESSAGES` entries, each cut saying how much it left out.

The sandbox applies them to every section before it sends it; the caller still refuses a
line longer than the output limit (`SimulateSettings.output_mib`).
"""

from __future__ import annotations

from typing import Any

MESSAGE_CHARS = 4_000
"""Characters kept of any one string in a section (a message, a test's output, a problem)."""
MESSAGES = 20
"""Entries kept of a list of messages."""


def clip(text: str, *, limit: int = MESSAGE_CHARS) -> str:
    """`text`, or its first `limit` characters and a marker saying how many were cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [truncated: {len(text) - limit} more characters]"


def bound(value: Any, *, limit: int = MESSAGE_CHARS) -> Any:
    """The JSON `value` with every string clipped and every `messages` list shortened."""
    if isinstance(value, str):
        return clip(value, limit=limit)
    if isinstance(value, list):
        return [bound(v, limit=limit) for v in value]
    if isinstance(value, dict):
        return {
            k: _messages(v, limit) if k == "messages" else bound(v, limit=limit)
            for k, v in value.items()
        }
    return value


def _messages(value: Any, limit: int) -> Any:
    if not isinstance(value, list) or len(value) <= MESSAGES:
        return bound(value, limit=limit)
    kept = [bound(v, limit=limit) for v in value[:MESSAGES]]
    return [*kept, f"… [{len(value) - MESSAGES} more messages]"]
