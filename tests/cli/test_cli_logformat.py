"""The log format of `reconciler serve`: where its records go."""

from __future__ import annotations

import io
import logging
import sys

import pytest

from reconciler.cli import logformat


def test_records_go_to_the_stderr_of_the_moment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A handler set up while stderr was another (now closed) stream still logs cleanly."""
    earlier, now = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", earlier)
    logformat.configure(json_lines=False)
    earlier.close()
    monkeypatch.setattr(sys, "stderr", now)
    try:
        logging.getLogger("reconciler.test").info("after the swap")
    finally:
        logging.basicConfig(force=True, handlers=[logging.NullHandler()])
    assert now.getvalue().endswith("INFO reconciler.test: after the swap\n")
    assert "Logging error" not in now.getvalue()
