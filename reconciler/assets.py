"""Where the files shipped with the package live: the built-in Rego library and the
example repository that `reconciler init` copies.

In the source tree (a checkout, or an editable install) they are the top-level `rego/` and
`repo-template/` folders; an installed wheel maps them to the `reconciler/_rego` and
`reconciler/_template` folders inside the package (pyproject's package-dir). Those hold no
`__init__.py`, and `importlib.resources` gives no single path for such namespace packages
on Python 3.11, so the two places are looked up directly.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_SOURCE_ROOT = _PACKAGE.parent


def _locate(*, installed: str, source: str) -> Path:
    in_package = _PACKAGE / installed
    return in_package if in_package.is_dir() else _SOURCE_ROOT / source


def rego_dir() -> Path:
    """The built-in Rego library (helpers and packs), loaded into every policy bundle."""
    return _locate(installed="_rego", source="rego")


def template_dir() -> Path:
    """The example repository."""
    return _locate(installed="_template", source="repo-template")
