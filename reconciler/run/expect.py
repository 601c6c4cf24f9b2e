"""The `expect` checks of a command step (workflow or runbook), applied to its result.

Without `expect` a step must exit 0. `stdout`/`stderr` are substrings to find, `stdoutRegex`
a regular expression searched line-wise, and each `json` check reads stdout as JSON and
follows a path like `$.status` or `$.items[0].id`. Every failed check is reported, so one
message says all that was wrong.
"""

from __future__ import annotations

import json
import re
from typing import Any

from reconciler.specs import flows

_PART = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]")
_MISSING = object()


def failures(expect: flows.Expect | None, *, exit_code: int, stdout: str, stderr: str) -> list[str]:
    """Why the result does not meet `expect`; empty when it does."""
    expect = expect or flows.Expect()
    found: list[str] = []
    if expect.exit_code is not None and exit_code != expect.exit_code:
        found.append(f"exit code {exit_code}, expected {expect.exit_code}")
    if expect.stdout is not None and expect.stdout not in stdout:
        found.append(f"stdout does not contain {json.dumps(expect.stdout)}")
    if expect.stderr is not None and expect.stderr not in stderr:
        found.append(f"stderr does not contain {json.dumps(expect.stderr)}")
    if expect.stdout_regex is not None and not re.search(expect.stdout_regex, stdout, re.MULTILINE):
        found.append(f"stdout does not match {json.dumps(expect.stdout_regex)}")
    if expect.json_:
        found += _json_failures(expect.json_, stdout=stdout)
    return found


def _json_failures(checks: list[flows.JsonCheck], *, stdout: str) -> list[str]:
    try:
        document = json.loads(stdout)
    except ValueError:
        return ["stdout is not JSON"]
    found: list[str] = []
    for check in checks:
        value = lookup(document, check.path)
        if "equals" in check.model_fields_set:
            if value is _MISSING:
                found.append(f"{check.path} is missing, expected {json.dumps(check.equals)}")
            elif value != check.equals:
                found.append(
                    f"{check.path} is {json.dumps(value)}, expected {json.dumps(check.equals)}"
                )
        elif check.exists is False and value is not _MISSING:
            found.append(f"{check.path} exists, expected it absent")
        elif check.exists is not False and value is _MISSING:
            found.append(f"{check.path} is missing")
    return found


def lookup(document: Any, path: str) -> Any:
    """The value at `path` (`$.a.b[0]`) in `document`, or a private marker when absent."""
    value = document
    for match in _PART.finditer(path):
        key, index = match.group(1), match.group(2)
        if key is not None and isinstance(value, dict) and key in value:
            value = value[key]
        elif index is not None and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        else:
            return _MISSING
    return value
