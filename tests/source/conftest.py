"""Fixtures for the source tests: an origin repository and real GPG and SSH signing keys."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import gitrepo

ORIGIN_FILES: dict[str, gitrepo.FileContent] = {
    "reconciler.yaml": "kind: Settings\n",
    "deploy/app.yaml": "kind: App\n",
    "deploy/db.yaml": "kind: Db\n",
    "docs/readme.md": "hello\n",
}


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A repository with one commit on `main`, tagged `v1` (light) and `v1.1` (annotated)."""
    path = tmp_path / "origin"
    gitrepo.make_repo(path, ORIGIN_FILES, message="first")
    gitrepo.tag(path, "v1")
    gitrepo.tag(path, "v1.1", message="release 1.1")
    return path


@dataclass(frozen=True, kw_only=True)
class GpgKey:
    home: Path  # GNUPGHOME holding the secret key
    public: Path  # armored public key
    email: str

    @property
    def env(self) -> dict[str, str]:
        return {"GNUPGHOME": str(self.home)}

    def sign_config(self) -> dict[str, str]:
        return {"user.signingkey": self.email, "gpg.program": "gpg"}


@dataclass(frozen=True, kw_only=True)
class SshKey:
    private: Path
    public: Path
    email: str

    def allowed_signer(self) -> str:
        return f'{self.email} namespaces="git" {self.public.read_text().strip()}'

    def sign_config(self) -> dict[str, str]:
        return {"gpg.format": "ssh", "user.signingkey": str(self.public)}


def _gpg_key(email: str) -> Iterator[GpgKey]:
    # A short folder: gpg-agent's socket path must stay under ~100 characters.
    home = Path(tempfile.mkdtemp(prefix="gpg-"))
    env = {**os.environ, "GNUPGHOME": str(home)}
    base = ["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", ""]
    uid = f"{email.split('@')[0].title()} <{email}>"
    subprocess.run(
        [*base, "--quick-gen-key", uid, "ed25519", "sign", "never"],
        env=env,
        check=True,
        capture_output=True,
    )
    public = home / "public.asc"
    exported = subprocess.run(
        ["gpg", "--armor", "--export", email], env=env, check=True, capture_output=True
    )
    public.write_bytes(exported.stdout)
    try:
        yield GpgKey(home=home, public=public, email=email)
    finally:
        subprocess.run(["gpgconf", "--kill", "all"], env=env, check=False, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def gpg_alice() -> Iterator[GpgKey]:
    yield from _gpg_key("alice@example.com")


@pytest.fixture(scope="session")
def gpg_mallory() -> Iterator[GpgKey]:
    yield from _gpg_key("mallory@example.com")


def _ssh_key(folder: Path, email: str) -> SshKey:
    private = folder / f"{email.split('@')[0]}_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", email, "-f", str(private)],
        check=True,
        capture_output=True,
    )
    return SshKey(private=private, public=Path(f"{private}.pub"), email=email)


@pytest.fixture(scope="session")
def ssh_alice(tmp_path_factory: pytest.TempPathFactory) -> SshKey:
    return _ssh_key(tmp_path_factory.mktemp("ssh"), "alice@example.com")


@pytest.fixture(scope="session")
def ssh_mallory(tmp_path_factory: pytest.TempPathFactory) -> SshKey:
    return _ssh_key(tmp_path_factory.mktemp("ssh"), "mallory@example.com")
