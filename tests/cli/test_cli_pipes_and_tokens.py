"""Small things a user meets at the shell: output piped into a reader that stops early,
`token new` saying what to do with what it prints, `serve` refusing before it creates
anything."""

from __future__ import annotations

import hashlib
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from tests import gitrepo
from tests.cli.conftest import Cli

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web-{i}, namespace: shop, labels: {{team: web, owner: web}}}}
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: web
          image: registry.internal/web:1.0
"""


def test_output_piped_into_head_exits_0_without_a_traceback(
    shared_example: Path, tmp_path: Path
) -> None:
    repo = tmp_path / "many"
    shutil.copytree(shared_example, repo, ignore=shutil.ignore_patterns(".git"))
    for i in range(300):  # far more output than a pipe holds, so the writer meets EPIPE
        (repo / "resources" / f"web-{i}.yaml").write_text(DEPLOYMENT.format(i=i))
    command = (
        f"set -o pipefail; {shlex.quote(sys.executable)} -m reconciler eval "
        f"{shlex.quote(str(repo))} --format json | head -1"
    )
    done = subprocess.run(
        ["bash", "-c", command],
        env=gitrepo.git_env({"HOME": str(tmp_path), "PYTHONWARNINGS": "error"}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "{\n", "")


def test_token_new_says_where_the_hash_goes_and_how_to_choose_a_role(cli: Cli) -> None:
    done = cli("token", "new", "--name", "deploy-bot", "--role", "operator")
    assert done.code == 0
    token_line, hash_line = done.lines
    token = token_line.removeprefix("token:  ")
    sha = hashlib.sha256(token.encode()).hexdigest()
    assert hash_line == f"sha256: {sha}"
    assert done.err == (
        "\nAdd the sha256 (never the token) to daemon.yaml, restart the daemon, and give the "
        "token to its user (`--token` or $RECONCILER_TOKEN):\n\n"
        "auth:\n"
        "  tokens:\n"
        "    - name: deploy-bot\n"
        f"      sha256: {sha}\n"
        "      role: operator  # viewer (read) < operator (sync, suspend, approve) < admin\n"
        "\nChoose the role with --role; docs/daemon.md has the auth settings.\n"
    )


def test_token_new_refuses_an_unknown_role(cli: Cli) -> None:
    done = cli("token", "new", "--role", "root")
    assert done.code == 1
    assert done.err_lines[-1] == (
        "reconciler token new: error: argument --role: invalid choice: 'root' "
        "(choose from 'metrics', 'viewer', 'operator', 'admin')"
    )


def test_a_refused_start_creates_nothing_in_the_data_directory(
    cli: Cli, shared_example: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    done = cli("serve", shared_example, "--host", "192.0.2.7", "--data-dir", data)
    assert (done.code, done.out) == (1, "")
    assert done.err == (
        "error: refusing to listen on 192.0.2.7 without access control: configure "
        "auth.tokens, listen on a loopback address, or set auth.allowAnonymous: true\n"
    )
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = cli("serve", shared_example, "--port", str(port), "--data-dir", data)
    assert (done.code, done.out) == (1, "")
    assert done.err == (
        f"error: cannot listen on 127.0.0.1:{port}: address already in use; choose another "
        "port with --port (--port 0 picks a free one)\n"
    )
    assert not data.exists()
