"""Where a ConstraintTemplate keeps its Rego: both formats Gatekeeper reads.

A target carries its Rego either in `rego` and `libs` (the original format, always Rego v0)
or in `code[]`, an entry with `engine: Rego` whose `source` holds `rego`, `libs` and an
optional `version` (`v0`, the default, or `v1`), usually beside a `K8sNativeValidation`
(CEL) entry for Kubernetes' own admission policies. A Rego code entry is used when there
is one, else `rego`; a target with only CEL entries cannot be evaluated here, and says so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

REGO_ENGINE = "Rego"
CEL_ENGINE = "K8sNativeValidation"
_PACKAGE = re.compile(r"^\s*package\s+([\w.]+)", re.MULTILINE)
_VERSIONS = {"v0": True, "v1": False}  # version -> parsed as v0


@dataclass(frozen=True, kw_only=True)
class RegoSource:
    """A template's Rego and libs, each with the key path it is written at."""

    key: str  # e.g. `spec.targets[0].code[1].source.rego`
    rego: str
    package: str  # without `data.`
    libs: tuple[tuple[str, str], ...]  # (key path, module text)
    v0: bool


@dataclass(frozen=True, kw_only=True)
class Invalid:
    """Why a target's Rego cannot be read: the key path and a message."""

    key: str
    message: str


def rego_of(target: Mapping[str, Any], *, where: str) -> RegoSource | Invalid:
    """The Rego of one target (`where` is its key path, `spec.targets[0]`)."""
    code = target.get("code")
    if code is not None:
        if not isinstance(code, list):
            return Invalid(key=f"{where}.code", message="must be a list of code entries")
        index = _rego_entry(code)
        if index is not None:
            return _from_code(code[index], where=f"{where}.code[{index}]")
    if "rego" in target:
        return _from_fields(target, where=where)
    if code is not None:
        return _no_rego_entry(code, where=f"{where}.code")
    return Invalid(key=where, message="must have rego, or a code entry with engine: Rego")


def _rego_entry(code: list[Any]) -> int | None:
    return next(
        (i for i, e in enumerate(code) if isinstance(e, dict) and e.get("engine") == REGO_ENGINE),
        None,
    )


def _no_rego_entry(code: list[Any], *, where: str) -> Invalid:
    engines = [e.get("engine") for e in code if isinstance(e, dict)]
    if CEL_ENGINE in engines:
        message = f"CEL ({CEL_ENGINE}) is not supported; add a Rego code entry (engine: Rego)"
    else:
        found = ", ".join(repr(e) for e in engines) or "none"
        message = f"has no entry with engine: Rego (engines: {found})"
    return Invalid(key=where, message=message)


def _from_code(entry: Mapping[str, Any], *, where: str) -> RegoSource | Invalid:
    source = entry.get("source")
    if not isinstance(source, dict):
        return Invalid(key=f"{where}.source", message="must be a mapping with rego and libs")
    version = source.get("version", "v0")
    if version not in _VERSIONS:
        return Invalid(key=f"{where}.source.version", message=f"must be v0 or v1, not {version!r}")
    return _from_fields(source, where=f"{where}.source", v0=_VERSIONS[version])


def _from_fields(fields: Mapping[str, Any], *, where: str, v0: bool = True) -> RegoSource | Invalid:
    rego = fields.get("rego")
    if not isinstance(rego, str) or not (found := _PACKAGE.search(rego)):
        return Invalid(key=f"{where}.rego", message="must be a Rego module with a package")
    libs = fields.get("libs") or []
    if not isinstance(libs, list) or not all(isinstance(x, str) for x in libs):
        return Invalid(key=f"{where}.libs", message="must be a list of Rego modules")
    return RegoSource(
        key=f"{where}.rego",
        rego=rego,
        package=found.group(1),
        libs=tuple((f"{where}.libs[{i}]", lib) for i, lib in enumerate(libs)),
        v0=v0,
    )


def modules(body: Mapping[str, Any]) -> list[tuple[str, str, bool]]:
    """Every Rego module a template document holds, as (key path, text, read as v0), for
    `reconciler test`: each target's Rego and libs in whichever format it uses; nothing if
    unreadable."""
    targets = (body.get("spec") or {}).get("targets") or []
    out: list[tuple[str, str, bool]] = []
    for i, target in enumerate(targets if isinstance(targets, list) else []):
        found = rego_of(target, where=f"spec.targets[{i}]") if isinstance(target, dict) else None
        if isinstance(found, RegoSource):
            texts = [(found.key, found.rego), *found.libs]
            out.extend((key, text, found.v0) for key, text in texts)
    return out
