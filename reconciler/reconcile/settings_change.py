"""What a newly served revision changed in the repository's settings (`reconciler.yaml`).

The runner compares the settings of each revision it starts serving with those of the one
it served before and publishes `SettingsChanged` (an audited event) when they differ: the
digests of both (SHA-256 of their canonical JSON, as the audit log hashes) and the top-level
keys that changed. The first revision a daemon serves after it starts is its baseline.
"""

from __future__ import annotations

import hashlib
from typing import Any

from reconciler.specs.models import SettingsSpec
from reconciler.store import audit


def document(spec: SettingsSpec) -> dict[str, Any]:
    """The settings as the repository spells them, defaults filled in."""
    return spec.model_dump(mode="json", by_alias=True)


def digest(spec: SettingsSpec) -> str:
    return hashlib.sha256(audit.canonical(document(spec)).encode("utf-8")).hexdigest()


def change(old: SettingsSpec, new: SettingsSpec) -> dict[str, Any] | None:
    """`{"old": digest, "new": digest, "changed": [key, ...]}`, or None when equal."""
    before, after = document(old), document(new)
    keys = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if not keys:
        return None
    return {"old": digest(old), "new": digest(new), "changed": keys}
