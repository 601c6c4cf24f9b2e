"""A real PostgreSQL server for the tests: `initdb` + `pg_ctl` into a temporary folder,
listening on a Unix socket only (no TCP port to collide on), stopped when the session ends.

Debian's `postgresql` package provides the binaries (`scripts/system-packages` installs it).
The server refuses to run as root, so under root it runs as the `postgres` user, in a folder
that user owns. Each test gets a fresh database (`database()`), so tests never see each
other's rows.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg

MISSING = "PostgreSQL server binaries (initdb, pg_ctl) not found: install Debian's postgresql"


def binaries() -> Path | None:
    """The folder holding `initdb` and `pg_ctl`, or None."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(versions[-1]).parent if versions else None


class Server:
    def __init__(self, bin_dir: Path) -> None:
        self._bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="reconciler-pg-"))
        self.root.chmod(0o755)
        self._user = "postgres" if os.geteuid() == 0 else None
        if self._user:
            os.chown(self.root, pwd.getpwnam(self._user).pw_uid, -1)
        self._names = itertools.count(1)

    def _run(self, *argv: str) -> None:
        prefix = ["runuser", "-u", self._user, "--"] if self._user else []
        subprocess.run([*prefix, *argv], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        data = self.root / "data"
        self._run(str(self._bin / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust")
        options = f"-k {self.root} -c listen_addresses='' -F -c max_connections=200"
        self._run(
            str(self._bin / "pg_ctl"), "-D", str(data), "-l", str(self.root / "log"),
            "-w", "-o", options, "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._run(str(self._bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.root}"

    def connect(self, database: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(host=str(self.root), user="postgres", dbname=database)

    def database(self) -> str:
        """A new, empty database; its name."""
        name = f"test_{next(self._names)}"
        with self.connect() as conn:
            conn.autocommit = True
            conn.execute(f'CREATE DATABASE "{name}"')
        return name


def serve() -> Iterator[Server]:
    bin_dir = binaries()
    assert bin_dir is not None, MISSING
    server = Server(bin_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()
