"""Write the traceback of an unexpected error to a log file the user can attach to a report."""

from __future__ import annotations

import os
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path


def log_dir() -> Path:
    """`$RECONCILER_LOG_DIR`, else `$XDG_STATE_HOME/reconciler`, else ~/.local/state/reconciler."""
    if env := os.environ.get("RECONCILER_LOG_DIR"):
        return Path(env)
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "reconciler"


def write_report(exc: BaseException) -> Path:
    text = "".join(traceback.format_exception(exc))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for folder in (log_dir(), Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"reconciler-crash-{stamp}-{os.getpid()}.log"
            path.write_text(text, encoding="utf-8")
            return path
        except OSError:
            continue
    raise exc
