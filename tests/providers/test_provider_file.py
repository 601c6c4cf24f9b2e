"""The file provider on a real temporary directory: roots, modes, templates, directories."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pydantic
import pytest

from reconciler.errors import ProblemsError
from reconciler.providers import base
from reconciler.providers import file as file_provider
from tests.providers.conftest import raised

if TYPE_CHECKING:
    from reconciler.specs.snapshot import Document
    from tests.providers.conftest import MakeDocument


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path.resolve() / "root"
    path.mkdir()
    return path


@pytest.fixture
def provider(root: Path) -> file_provider.FileProvider:
    return file_provider.FileProvider(base.ProviderSettings(file=base.FileSettings(roots=(root,))))


def spec_message(provider: file_provider.FileProvider, resource: Document) -> str:
    return raised(provider.apply, resource, error=ProblemsError)


def test_a_path_outside_the_roots_is_refused_and_nothing_is_written(
    provider: file_provider.FileProvider, root: Path, make_document: MakeDocument
) -> None:
    outside = root.parent / "outside.txt"
    resource = make_document("File", "motd", {"path": str(outside), "content": "x"}, line=7)
    assert spec_message(provider, resource) == (
        f"resources/managed.yaml:7 spec.path: {outside} is outside the allowed roots {root} "
        "(File//motd, file provider)"
    )
    assert not outside.exists()


def test_dot_dot_cannot_climb_out_of_a_root(
    provider: file_provider.FileProvider, root: Path, make_document: MakeDocument
) -> None:
    sneaky = f"{root}/../escaped.txt"
    resource = make_document("File", "motd", {"path": sneaky, "content": "x"})
    assert spec_message(provider, resource) == (
        f"resources/managed.yaml:1 spec.path: {sneaky} resolves to {root.parent}/escaped.txt, "
        f"outside the allowed roots {root} (File//motd, file provider)"
    )
    assert not (root.parent / "escaped.txt").exists()


def test_a_symlink_cannot_lead_out_of_a_root(
    provider: file_provider.FileProvider, root: Path, make_document: MakeDocument
) -> None:
    elsewhere = root.parent / "elsewhere"
    elsewhere.mkdir()
    (root / "link").symlink_to(elsewhere)
    resource = make_document("File", "motd", {"path": f"{root}/link/motd", "content": "x"})
    assert spec_message(provider, resource) == (
        f"resources/managed.yaml:1 spec.path: {root}/link/motd resolves to {elsewhere}/motd, "
        f"outside the allowed roots {root} (File//motd, file provider)"
    )
    assert list(elsewhere.iterdir()) == []


def test_bad_specs_are_reported_with_their_key_paths(
    provider: file_provider.FileProvider, make_document: MakeDocument
) -> None:
    resource = make_document("File", "motd", {"path": "../motd", "content": "x", "mode": 420})
    assert spec_message(provider, resource) == "\n".join(
        [
            'resources/managed.yaml:1 spec.mode: must be a quoted octal string like "0644" '
            "(YAML reads 0644 unquoted as a number) (File//motd, file provider)",
            "resources/managed.yaml:1 spec.path: must be an absolute path, or a relative one "
            'without ".." (inside the daemon\'s <data-dir>/files) (File//motd, file provider)',
        ]
    )


def managing(root: Path, managed: Path) -> file_provider.FileProvider:
    settings = base.FileSettings(roots=(root,), managed_dir=managed)
    return file_provider.FileProvider(base.ProviderSettings(file=settings))


def test_a_relative_path_lives_in_the_managed_folder_whatever_the_roots(
    root: Path, tmp_path: Path, make_document: MakeDocument
) -> None:
    managed = tmp_path.resolve() / "data" / "files"
    provider = managing(root, managed)
    resource = make_document("File", "conf", {"path": "config/app.ini", "content": "a=1\n"})
    assert provider.observe(resource) is None
    assert not managed.exists()  # observing creates nothing
    observed = provider.apply(resource)
    assert (observed["path"], observed["content"]) == ("config/app.ini", "a=1\n")
    assert (managed / "config" / "app.ini").read_text() == "a=1\n"
    assert provider.observe(resource) == observed
    provider.delete(resource)
    assert list((managed / "config").iterdir()) == []


def test_a_symlink_cannot_lead_out_of_the_managed_folder(
    root: Path, tmp_path: Path, make_document: MakeDocument
) -> None:
    managed = tmp_path.resolve() / "data" / "files"
    managed.mkdir(parents=True)
    elsewhere = tmp_path.resolve() / "elsewhere"
    elsewhere.mkdir()
    (managed / "link").symlink_to(elsewhere)
    resource = make_document("File", "motd", {"path": "link/motd", "content": "x"})
    assert spec_message(managing(root, managed), resource) == (
        f"resources/managed.yaml:1 spec.path: link/motd resolves to {elsewhere}/motd, outside "
        f"the managed folder {managed} (File//motd, file provider)"
    )
    assert list(elsewhere.iterdir()) == []


def test_a_relative_path_without_a_data_directory_is_refused(
    provider: file_provider.FileProvider, make_document: MakeDocument
) -> None:
    resource = make_document("File", "motd", {"path": "motd", "content": "x"})
    assert spec_message(provider, resource) == (
        "resources/managed.yaml:1 spec.path: a relative path needs the daemon's data directory "
        "(<data-dir>/files) (File//motd, file provider)"
    )


def test_writes_are_atomic_and_keep_an_undeclared_mode(
    provider: file_provider.FileProvider, root: Path, make_document: MakeDocument
) -> None:
    target = root / "deep" / "conf"
    resource = make_document("File", "conf", {"path": str(target), "content": "a=1\n"})
    assert provider.apply(resource)["mode"] == "0644"
    target.chmod(0o600)
    changed = make_document("File", "conf", {"path": str(target), "content": "a=2\n"})
    observed = provider.apply(changed)
    assert (observed["content"], observed["mode"]) == ("a=2\n", "0600")
    assert sorted(p.name for p in target.parent.iterdir()) == ["conf"]


def test_a_template_renders_vars_and_drift_shows_the_real_content(
    provider: file_provider.FileProvider, root: Path, make_document: MakeDocument
) -> None:
    spec = {
        "path": str(root / "motd"),
        "template": "hello {{ vars.who }}, {{vars.n}}\n",
        "vars": {"who": "ops", "n": 3},
    }
    resource = make_document("File", "motd", spec)
    assert provider.apply(resource)["content"] == "hello ops, 3\n"
    assert provider.normalise(resource.body, provider.observe(resource) or {}) == resource.body
    (root / "motd").write_text("edited by hand\n")
    drifted = provider.normalise(resource.body, provider.observe(resource) or {})
    assert drifted["spec"] == {"path": str(root / "motd"), "content": "edited by hand\n"}


def test_a_template_may_only_reference_vars(
    provider: file_provider.FileProvider, root: Path, make_document: MakeDocument
) -> None:
    spec = {"path": str(root / "motd"), "template": "{{ __import__('os') }}"}
    resource = make_document("File", "motd", spec)
    assert spec_message(provider, resource) == (
        "resources/managed.yaml:1 spec.template: {{ __import__('os') }} is not a reference "
        "like {{ vars.name }} (File//motd, file provider)"
    )
    assert not (root / "motd").exists()


def test_directories_are_created_with_their_mode_and_removed_only_when_empty(
    provider: file_provider.FileProvider, root: Path, make_document: MakeDocument
) -> None:
    target = root / "cache"
    resource = make_document(
        "File", "cache", {"path": str(target), "directory": True, "mode": "0750"}
    )
    observed = provider.apply(resource)
    assert observed == {"path": str(target), "state": "present", "directory": True, "mode": "0750"}
    assert provider.normalise(resource.body, observed) == resource.body
    (target / "keep").write_text("data")
    with pytest.raises(base.ProviderError) as caught:
        provider.delete(resource)
    assert str(caught.value) == (
        f"file provider: File//cache: cannot remove {target}: Directory not empty"
    )
    assert (target / "keep").read_text() == "data"


def test_state_absent_removes_the_file_and_then_holds(
    provider: file_provider.FileProvider, root: Path, make_document: MakeDocument
) -> None:
    target = root / "stale.lock"
    target.write_text("")
    resource = make_document("File", "stale", {"path": str(target), "state": "absent"})
    present = provider.observe(resource)
    assert present is not None
    assert provider.normalise(resource.body, present)["spec"]["state"] == "present"
    assert provider.apply(resource) == {"path": str(target), "state": "absent"}
    assert not target.exists()
    assert provider.normalise(resource.body, provider.observe(resource) or {}) == resource.body


def test_no_absolute_path_is_allowed_without_roots(
    tmp_path: Path, make_document: MakeDocument
) -> None:
    provider = file_provider.FileProvider(base.ProviderSettings())
    target = tmp_path / "free.txt"
    resource = make_document("File", "free", {"path": str(target), "content": "ok"})
    with pytest.raises(base.ProviderSpecError) as caught:
        provider.apply(resource)
    assert str(caught.value).startswith(
        f"{resource.path}:{resource.line} spec.path: {target} is absolute and no roots allow"
        " absolute paths (daemon setting providers.file.roots, or serve --file-root)"
    )
    assert not target.exists()


def test_roots_in_the_settings_must_be_absolute() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        base.FileSettings(roots=(Path("/srv/www"), Path("srv/www")))
    assert [e["msg"] for e in caught.value.errors()] == [
        "Value error, roots must be absolute directories: srv/www"
    ]
