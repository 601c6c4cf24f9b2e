"""Commit signature checks with real GPG and SSH keys and commits signed by real git."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pygit2
import pytest

from reconciler import errors
from reconciler.source import git, settings, signatures
from tests import gitrepo
from tests.source.conftest import GpgKey, SshKey


def _gpg_fingerprint(key: GpgKey) -> tuple[str, str]:
    """(long key id, fingerprint) of the key's primary key."""
    listed = subprocess.run(
        ["gpg", "--with-colons", "--list-keys", key.email],
        env=key.env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    keyid = next(line.split(":")[4] for line in listed if line.startswith("pub:"))
    fingerprint = next(line.split(":")[9] for line in listed if line.startswith("fpr:"))
    return keyid, fingerprint


def _ssh_fingerprint(key: SshKey) -> str:
    listed = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(key.public)], check=True, capture_output=True, text=True
    ).stdout
    return listed.split()[1]


def _signed_repo(path: Path, *, config: dict[str, str], env: dict[str, str] | None = None) -> str:
    gitrepo.make_repo(path, {"a.yaml": "a: 1\n"}, message="unsigned")
    return gitrepo.commit(
        path, {"a.yaml": "a: 2\n"}, message="signed", sign=True, config=config, env=env
    )


def _source(path: Path, trusted: settings.TrustedKeys) -> git.GitSource:
    return git.GitSource.open(settings.SourceSettings(path=path, trusted_keys=trusted))


def _tamper(path: Path, sha: str) -> str:
    """A copy of signed commit `sha` with another message but the same signature, on `evil`."""
    repo = pygit2.Repository(str(path))
    signed = repo[sha]
    assert isinstance(signed, pygit2.Commit)
    signature, payload = signed.gpg_signature
    forged = payload.replace(b"\nsigned\n", b"\nforged\n")
    oid = repo.create_commit_with_signature(forged.decode(), signature.decode())
    repo.references.create("refs/heads/evil", oid)
    return str(oid)


def _refused(source: git.GitSource, ref: str) -> str:
    with pytest.raises(errors.SignatureError) as raised:
        source.resolve(ref)
    return str(raised.value)


def test_gpg_signed_by_a_trusted_key(tmp_path: Path, gpg_alice: GpgKey) -> None:
    sha = _signed_repo(tmp_path, config=gpg_alice.sign_config(), env=gpg_alice.env)
    source = _source(tmp_path, settings.TrustedKeys(gpg_key_files=(gpg_alice.public,)))

    revision = source.resolve("main")

    assert (revision.sha, revision.signature_verified) == (sha, True)
    assert revision.signer == "Alice <alice@example.com>"
    assert revision.signing_key == f"gpg key {_gpg_fingerprint(gpg_alice)[1]}"


def test_gpg_unsigned_untrusted_and_bad(
    tmp_path: Path, gpg_alice: GpgKey, gpg_mallory: GpgKey
) -> None:
    sha = _signed_repo(tmp_path, config=gpg_mallory.sign_config(), env=gpg_mallory.env)
    unsigned = gitrepo.git(tmp_path, "rev-parse", "HEAD~1")
    forged = _tamper(tmp_path, gitrepo.git(tmp_path, "rev-parse", "HEAD"))
    trusted = settings.TrustedKeys(gpg_key_files=(gpg_alice.public, gpg_mallory.public))
    only_alice = _source(tmp_path, settings.TrustedKeys(gpg_key_files=(gpg_alice.public,)))

    assert _refused(only_alice, unsigned) == f"commit {unsigned[:12]} is not signed"
    assert _refused(only_alice, "main") == (
        f"commit {sha[:12]} is signed by an untrusted key "
        f"(gpg key {_gpg_fingerprint(gpg_mallory)[0]})"
    )
    assert (
        _refused(_source(tmp_path, trusted), "evil") == f"commit {forged[:12]} has a bad signature"
    )


def test_ssh_signed_by_a_trusted_key(tmp_path: Path, ssh_alice: SshKey) -> None:
    sha = _signed_repo(tmp_path, config=ssh_alice.sign_config())
    signers_file = tmp_path.parent / f"{tmp_path.name}-allowed_signers"
    signers_file.write_text(ssh_alice.allowed_signer() + "\n")

    for trusted in (
        settings.TrustedKeys(ssh_allowed_signers=(ssh_alice.allowed_signer(),)),
        settings.TrustedKeys(ssh_allowed_signers_files=(signers_file,)),
    ):
        revision = _source(tmp_path, trusted).resolve("main")
        assert (revision.sha, revision.signature_verified) == (sha, True)
        assert revision.signer == "alice@example.com"
        assert revision.signing_key == f"ssh ED25519 key {_ssh_fingerprint(ssh_alice)}"


def test_ssh_untrusted_and_bad(tmp_path: Path, ssh_alice: SshKey, ssh_mallory: SshKey) -> None:
    sha = _signed_repo(tmp_path, config=ssh_mallory.sign_config())
    forged = _tamper(tmp_path, sha)
    only_alice = _source(
        tmp_path, settings.TrustedKeys(ssh_allowed_signers=(ssh_alice.allowed_signer(),))
    )
    both = settings.TrustedKeys(
        ssh_allowed_signers=(ssh_alice.allowed_signer(), ssh_mallory.allowed_signer())
    )

    assert _refused(only_alice, "main") == (
        f"commit {sha[:12]} is signed by an untrusted key "
        f"(ssh ED25519 key {_ssh_fingerprint(ssh_mallory)})"
    )
    assert _refused(only_alice, "evil") == f"commit {forged[:12]} has a bad signature"
    assert _refused(_source(tmp_path, both), "evil") == f"commit {forged[:12]} has a bad signature"
    assert _source(tmp_path, both).resolve("main").signer == "mallory@example.com"


def test_ssh_signature_when_only_gpg_keys_are_trusted(
    tmp_path: Path, ssh_alice: SshKey, gpg_alice: GpgKey
) -> None:
    sha = _signed_repo(tmp_path, config=ssh_alice.sign_config())
    source = _source(tmp_path, settings.TrustedKeys(gpg_key_files=(gpg_alice.public,)))

    assert _refused(source, "main") == (
        f"commit {sha[:12]} is signed by an untrusted key "
        f"(ssh ED25519 key {_ssh_fingerprint(ssh_alice)})"
    )


def test_verify_rejects_garbage_and_a_broken_key_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.asc"
    broken.write_text("not a key\n")
    garbage = b"-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n"

    with pytest.raises(errors.SignatureError) as bad:
        signatures.verify(
            sha="ab" * 20, signature=garbage, payload=b"x", trusted=settings.TrustedKeys()
        )
    with pytest.raises(errors.UsageError) as unusable:
        signatures.verify(
            sha="ab" * 20,
            signature=garbage,
            payload=b"x",
            trusted=settings.TrustedKeys(gpg_key_files=(broken,)),
        )

    assert str(bad.value) == "commit abababababab has a bad signature"
    assert (
        str(unusable.value)
        == f"cannot import trusted GPG key {broken}: no valid OpenPGP data found."
    )
