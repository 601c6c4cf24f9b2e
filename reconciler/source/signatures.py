"""Checking that a commit was signed by a trusted key, with the tools git itself uses.

Commit signatures are verified by `gpg` and `ssh-keygen` run as subprocesses, never by a
library of our own: the user's keys and allowed-signers lines mean here exactly what they
mean to `git verify-commit`. Each check runs in a fresh temporary folder (a throwaway
GNUPGHOME holding only the trusted keys, or an allowed-signers file), so the user's own
keyring and trust settings never take part. The signature and the signed payload come from
`source.git`, which reads them out of the commit object.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from reconciler import errors
from reconciler.source.settings import TrustedKeys

_SSH_GOOD = re.compile(r"with (?P<key>\S+ key \S+)")
_TIMEOUT = 30.0
_GPG_CHATTER = ("keybox ", "directory ", "Total number processed")


class SignatureMethod(StrEnum):
    GPG = "gpg"
    SSH = "ssh"


@dataclass(frozen=True, kw_only=True)
class Signer:
    """Who signed: the GPG user id or SSH principal, and the key that made the signature."""

    identity: str
    key: str
    method: SignatureMethod


def verify(*, sha: str, signature: bytes | None, payload: bytes, trusted: TrustedKeys) -> Signer:
    """The trusted signer of commit `sha`; `SignatureError` when unsigned, untrusted or bad."""
    short = sha[:12]
    if not signature:
        raise errors.SignatureError(f"commit {short} is not signed")
    if signature.lstrip().startswith(b"-----BEGIN PGP SIGNATURE-----"):
        return _verify_gpg(short=short, signature=signature, payload=payload, trusted=trusted)
    if signature.lstrip().startswith(b"-----BEGIN SSH SIGNATURE-----"):
        return _verify_ssh(short=short, signature=signature, payload=payload, trusted=trusted)
    raise errors.SignatureError(f"commit {short} has a signature of a kind that is not supported")


def _run(
    argv: list[str], *, stdin: bytes = b"", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(
            argv, input=stdin, capture_output=True, env=env, timeout=_TIMEOUT, check=False
        )
    except FileNotFoundError:
        raise errors.UsageError(
            f"{argv[0]} is needed to verify commit signatures but is not installed"
        ) from None
    return subprocess.CompletedProcess(
        argv,
        done.returncode,
        done.stdout.decode(errors="replace"),
        done.stderr.decode(errors="replace"),
    )


def _verify_gpg(*, short: str, signature: bytes, payload: bytes, trusted: TrustedKeys) -> Signer:
    with tempfile.TemporaryDirectory(prefix="reconciler-gpg-") as home:
        env = {**os.environ, "GNUPGHOME": home}
        for key_file in trusted.gpg_key_files:
            _import_gpg_key(key_file, env=env)
        sig_file = Path(home) / "commit.sig"
        sig_file.write_bytes(signature)
        argv = [
            "gpg",
            "--batch",
            "--no-tty",
            "--no-autostart",
            "--trust-model",
            "always",
            "--status-fd",
            "1",
            "--verify",
            str(sig_file),
            "-",
        ]
        status = _gpg_status(_run(argv, stdin=payload, env=env).stdout)
    if "GOODSIG" in status and "VALIDSIG" in status:
        identity = status["GOODSIG"].partition(" ")[2]
        return Signer(
            identity=identity,
            key=f"gpg key {status['VALIDSIG'].split()[0]}",
            method=SignatureMethod.GPG,
        )
    for kind in ("EXPKEYSIG", "REVKEYSIG"):
        if kind in status:
            state = "expired" if kind == "EXPKEYSIG" else "revoked"
            key = status[kind].split()[0]
            raise errors.SignatureError(
                f"commit {short} is signed by a {state} key (gpg key {key})"
            )
    if "NO_PUBKEY" in status:
        key = status["NO_PUBKEY"].split()[0]
        raise errors.SignatureError(f"commit {short} is signed by an untrusted key (gpg key {key})")
    raise errors.SignatureError(f"commit {short} has a bad signature")


def _import_gpg_key(key_file: Path, *, env: dict[str, str]) -> None:
    done = _run(
        ["gpg", "--batch", "--no-tty", "--no-autostart", "--import", str(key_file)], env=env
    )
    if done.returncode != 0:
        lines = [line.removeprefix("gpg: ") for line in done.stderr.strip().splitlines()]
        reasons = [line for line in lines if not line.startswith(_GPG_CHATTER)] or ["no key found"]
        raise errors.UsageError(f"cannot import trusted GPG key {key_file}: {reasons[0]}")


def _gpg_status(output: str) -> dict[str, str]:
    """`[GNUPG:] KEYWORD args` lines as {KEYWORD: args} (the first of each keyword wins)."""
    status: dict[str, str] = {}
    for line in output.splitlines():
        if line.startswith("[GNUPG:] "):
            keyword, _, rest = line[len("[GNUPG:] ") :].partition(" ")
            status.setdefault(keyword, rest)
    return status


def _verify_ssh(*, short: str, signature: bytes, payload: bytes, trusted: TrustedKeys) -> Signer:
    with tempfile.TemporaryDirectory(prefix="reconciler-ssh-") as tmp:
        signers = Path(tmp) / "allowed_signers"
        signers.write_text(_allowed_signers(trusted))
        sig_file = Path(tmp) / "commit.sig"
        sig_file.write_bytes(signature)
        found = _run(
            ["ssh-keygen", "-Y", "find-principals", "-s", str(sig_file), "-f", str(signers)]
        )
        principals = found.stdout.split() if found.returncode == 0 else []
        if not principals:
            raise errors.SignatureError(
                _untrusted_ssh(short=short, sig_file=sig_file, payload=payload)
            )
        argv = [
            "ssh-keygen",
            "-Y",
            "verify",
            "-n",
            "git",
            "-f",
            str(signers),
            "-I",
            principals[0],
            "-s",
            str(sig_file),
        ]
        checked = _run(argv, stdin=payload)
    good = _SSH_GOOD.search(checked.stdout)
    if checked.returncode != 0 or good is None:
        raise errors.SignatureError(f"commit {short} has a bad signature")
    return Signer(
        identity=principals[0], key=f"ssh {good.group('key')}", method=SignatureMethod.SSH
    )


def _allowed_signers(trusted: TrustedKeys) -> str:
    lines = list(trusted.ssh_allowed_signers)
    lines += [path.read_text() for path in trusted.ssh_allowed_signers_files]
    return "".join(f"{line.rstrip()}\n" for line in lines)


def _untrusted_ssh(*, short: str, sig_file: Path, payload: bytes) -> str:
    """The message for a signature no trusted key made: bad, or good but by an unknown key."""
    argv = ["ssh-keygen", "-Y", "check-novalidate", "-n", "git", "-s", str(sig_file)]
    checked = _run(argv, stdin=payload)
    good = _SSH_GOOD.search(checked.stdout)
    if checked.returncode != 0 or good is None:
        return f"commit {short} has a bad signature"
    return f"commit {short} is signed by an untrusted key (ssh {good.group('key')})"
