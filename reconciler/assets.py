"""Where the files shipped with the package live: the built-in Rego library and the
example repository that `reconciler init` copies.

In the source tree they are the top-level `rego/` and `repo-template/` folders; an
installed wheel maps them to the `reconciler._rego` and `reconciler._template` packages.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_SOURCE_ROOT = Path(__file__).resolve().parent.parent


def _locate(package: str, folder: str) -> Path:
    try:
        found = Path(str(resources.files(package)))
        if found.is_dir():
            return found
    except ModuleNotFoundError:
        pass
    return _SOURCE_ROOT / folder


def rego_dir() -> Path:
    """The built-in Rego library (helpers and packs), loaded into every policy bundle."""
    return _locate("reconciler._rego", "rego")


def template_dir() -> Path:
    """The example repository."""
    return _locate("reconciler._template", "repo-template")
