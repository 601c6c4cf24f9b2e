"""Which Rego syntax (v0 or v1) a module is read in, decided the way OPA decides it.

OPA 1.x and conftest since 0.60 read v1 and keep v0 behind a flag; a module says which it
is written in by importing `rego.v1` (v1) or `future.keywords` (v0 with the v1 keywords).
A repository may also pin the version of the modules under a folder (`regoVersions` in
`reconciler.yaml`). A module that neither imports nor sits under a pinned folder is read
as v1, and as v0 when v1 does not parse it (the engine adapter does that fallback), so
Gatekeeper- and conftest-era modules load unchanged, even those calling `contains()`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from reconciler.specs.models import RegoVersion

_IMPORT = re.compile(r"^[ \t]*import[ \t]+(rego\.v1|future\.keywords)\b", re.MULTILINE)


def declared(text: str) -> RegoVersion | None:
    """The version a module's own imports declare, None when they say nothing."""
    found = {m.group(1) for m in _IMPORT.finditer(_without_comments_and_strings(text))}
    if "rego.v1" in found:
        return RegoVersion.V1
    return RegoVersion.V0 if found else None


def configured(path: str, folders: Mapping[str, RegoVersion]) -> RegoVersion | None:
    """The version pinned for the deepest folder holding `path`, None when none is."""
    best: tuple[int, RegoVersion] | None = None
    for folder, version in folders.items():
        prefix = folder.strip("/") + "/"
        if path.startswith(prefix) and (best is None or len(prefix) > best[0]):
            best = (len(prefix), version)
    return best[1] if best else None


def _without_comments_and_strings(text: str) -> str:
    text = re.sub(r'"(?:\\.|[^"\\\n])*"|`[^`]*`', '""', text)
    return re.sub(r"#.*$", "", text, flags=re.MULTILINE)
