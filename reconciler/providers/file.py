"""The `file` provider: File resources are files and directories on the daemon's host.

`observe` reads the real file (content and mode); `apply` writes it atomically (a temporary
file in the same directory, renamed over the target) so readers never see half a file;
`delete` removes it (directories only when empty). A relative path resolves under the
daemon's managed folder (`<data-dir>/files`) and must stay inside it: the default, for
files that are the daemon's alone. An absolute path is allowed only inside one of the
roots the daemon settings name (`providers.file.roots`, `serve --file-root`). Either way
the path is resolved (after `..` and symlinks) and checked against its root, and then
reached from the root without following any symlink (`providers.confined`), so a link
planted on the way — before or during the write — cannot lead the write, the mode change
or the removal out of the root.

A File with `state: absent` asserts that the path does not exist: it observes as
`{"path", "state": "absent"}` while the path is missing, applying it removes the path, and
deleting the resource leaves the path alone.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from reconciler.providers import base, confined, templates, validation
from reconciler.specs import kinds
from reconciler.specs.snapshot import Document

NAME = "file"
At = tuple[Path, Path]  # (the root a File must stay in, its resolved path)


class FileProvider:
    """Files and directories on the local filesystem."""

    name = NAME
    capabilities = base.Capabilities(waits=False)

    def __init__(self, settings: base.ProviderSettings) -> None:
        self._roots = tuple(Path(os.path.realpath(r)) for r in settings.file.roots)
        self._shown_roots = ", ".join(str(r) for r in settings.file.roots)
        self._managed_dir = settings.file.managed_dir

    def observe(self, resource: Document) -> dict[str, Any] | None:
        spec = self._spec(resource)
        observed = self._read(resource, spec=spec, at=self._target(resource, spec))
        if observed is None and spec.state == "absent":
            return {"path": spec.path, "state": "absent"}
        return observed

    def normalise(self, resource_body: dict[str, Any], observed: dict[str, Any]) -> dict[str, Any]:
        desired: dict[str, Any] = dict(resource_body.get("spec") or {})
        state = observed.get("state", "present")
        if state != desired.get("state", "present"):
            return base.with_spec(resource_body, {**desired, "state": state})
        facts = _facts(observed)
        if "template" in desired and _renders_to(desired, observed.get("content")):
            facts.update(template=desired["template"], vars=desired.get("vars", {}))
        elif "template" in desired:
            # Drifted from the template: show the real content in place of the template.
            desired = {k: v for k, v in desired.items() if k not in ("template", "vars")}
            desired["content"] = None
        spec = {k: facts.get(k, v) for k, v in desired.items() if k in facts or k == "path"}
        return base.with_spec(resource_body, spec)

    def apply(self, resource: Document) -> dict[str, Any]:
        spec = self._spec(resource)
        at = self._target(resource, spec)
        if spec.state == "absent":
            self._remove(resource, at)
            return {"path": spec.path, "state": "absent"}
        current = self._read(resource, spec=spec, at=at)
        if spec.directory:
            self._make_directory(resource, spec=spec, at=at, current=current)
        else:
            self._write(resource, spec=spec, at=at, current=current)
        after = self._read(resource, spec=spec, at=at)
        if after is None:
            raise self._error(resource, f"{at[1]} vanished right after it was written")
        return after

    def delete(self, resource: Document) -> None:
        spec = self._spec(resource)
        if spec.state == "present":
            self._remove(resource, self._target(resource, spec))

    def _spec(self, resource: Document) -> kinds.FileSpec:
        return validation.parse_spec(kinds.FileSpec, provider=NAME, resource=resource)

    def _target(self, resource: Document, spec: kinds.FileSpec) -> At:
        """(root, resolved path): where the File is, and the root it must stay in."""
        if not os.path.isabs(spec.path):
            return self._managed(resource, spec.path)
        real = Path(os.path.realpath(spec.path))
        for root in self._roots:
            if root in real.parents:
                return root, real
        where = f"{spec.path} is" if str(real) == spec.path else f"{spec.path} resolves to {real},"
        message = (
            f"{where} outside the allowed roots {self._shown_roots}"
            if self._roots
            else f"{spec.path} is absolute and no roots allow absolute paths (daemon setting"
            " providers.file.roots, or serve --file-root); relative paths live in"
            " <data-dir>/files"
        )
        raise validation.spec_error(
            provider=NAME, resource=resource, key="spec.path", message=message
        )

    def _managed(self, resource: Document, path: str) -> At:
        """`path` inside the managed folder (created by the first write, like any parent)."""
        if self._managed_dir is None:
            message = "a relative path needs the daemon's data directory (<data-dir>/files)"
            raise validation.spec_error(
                provider=NAME, resource=resource, key="spec.path", message=message
            )
        root = Path(os.path.realpath(self._managed_dir))
        real = Path(os.path.realpath(root / path))
        if root in real.parents:
            return root, real
        message = f"{path} resolves to {real}, outside the managed folder {root}"
        raise validation.spec_error(
            provider=NAME, resource=resource, key="spec.path", message=message
        )

    def _read(self, resource: Document, *, spec: kinds.FileSpec, at: At) -> dict[str, Any] | None:
        root, target = at
        try:
            found = confined.read(root, target)
        except OSError as error:
            raise self._error(resource, f"cannot read {target}: {_why(error)}") from error
        if found is None:
            return None
        info, data = found
        if data is None and not stat.S_ISDIR(info.st_mode):
            raise self._error(resource, f"{target} is neither a file nor a directory")
        observed = {"path": spec.path, "state": "present", "mode": _mode(info.st_mode)}
        if data is None:
            return {**observed, "directory": True}
        return {**observed, "directory": False, "content": data.decode("utf-8", "replace")}

    def _make_directory(
        self, resource: Document, *, spec: kinds.FileSpec, at: At, current: dict[str, Any] | None
    ) -> None:
        if current is not None and not current["directory"]:
            raise self._error(resource, f"{at[1]} exists and is not a directory")
        try:
            confined.make_directory(*at, mode=int(spec.mode or "0755", 8))
        except OSError as error:
            raise self._error(resource, f"cannot create {at[1]}: {_why(error)}") from error

    def _write(
        self, resource: Document, *, spec: kinds.FileSpec, at: At, current: dict[str, Any] | None
    ) -> None:
        if current is not None and current["directory"]:
            raise self._error(resource, f"{at[1]} is a directory")
        text = self._render(resource, spec)
        mode = spec.mode or (current["mode"] if current else "0644")
        if current and current["content"] == text and current["mode"] == mode:
            return
        try:
            confined.write(*at, data=text.encode("utf-8"), mode=int(mode, 8))
        except OSError as error:
            raise self._error(resource, f"cannot write {at[1]}: {_why(error)}") from error

    def _render(self, resource: Document, spec: kinds.FileSpec) -> str:
        if spec.template is None:
            return spec.content or ""
        try:
            return templates.render(spec.template, spec.vars)
        except templates.TemplateError as error:
            raise validation.spec_error(
                provider=NAME, resource=resource, key="spec.template", message=str(error)
            ) from None

    def _remove(self, resource: Document, at: At) -> None:
        try:
            confined.remove(*at)
        except OSError as error:
            raise self._error(resource, f"cannot remove {at[1]}: {_why(error)}") from error

    def _error(self, resource: Document, detail: str) -> base.ProviderError:
        return base.ProviderError(provider=NAME, key=resource.key, detail=detail)


def _why(error: OSError) -> str:
    return str(error) if isinstance(error, confined.Escaped) else str(error.strerror)


def _renders_to(desired: dict[str, Any], content: Any) -> bool:
    try:
        rendered = templates.render(str(desired["template"]), desired.get("vars") or {})
        return bool(rendered == content)
    except templates.TemplateError:
        return False


def _facts(observed: dict[str, Any]) -> dict[str, Any]:
    keys: tuple[str, ...] = ("state", "mode", "content")
    facts = {k: observed[k] for k in keys if k in observed}
    facts["directory"] = observed.get("directory", False)
    return facts


def _mode(st_mode: int) -> str:
    return f"{stat.S_IMODE(st_mode):04o}"
