"""The exec provider running real programs: timeouts, process groups, protocol errors."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from reconciler.errors import ProblemsError
from reconciler.providers import base
from reconciler.providers import exec as exec_provider
from reconciler.run import orphans
from tests.providers.conftest import raised

if TYPE_CHECKING:
    from reconciler.specs.snapshot import Document
    from tests.providers.conftest import MakeDocument

SLOW_WITH_GRANDCHILD = """\
import pathlib, subprocess, sys, time

child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
pathlib.Path("grandchild.pid").write_text(str(child.pid))
time.sleep(60)
"""


@pytest.fixture
def provider(tmp_path: Path) -> exec_provider.ExecProvider:
    (tmp_path / "providers").mkdir()
    return exec_provider.ExecProvider(base.ProviderSettings(repository_dir=tmp_path))


def program(tmp_path: Path, name: str, source: str) -> str:
    (tmp_path / "providers" / name).write_text(source)
    return f"providers/{name}"


def with_program(
    make_document: MakeDocument, tmp_path: Path, *, name: str, source: str
) -> Document:
    """The ExecResource `web`, managed by the program `name` written into the repository."""
    return make_document("ExecResource", "web", {"provider": program(tmp_path, name, source)})


def gone(pid: int) -> bool:
    """True when `pid` no longer runs: it does not exist, or is a zombie awaiting its reaper."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rpartition(")")[2].split()[0] == "Z"


def test_a_timeout_kills_the_whole_process_group(
    provider: exec_provider.ExecProvider, tmp_path: Path, make_document: MakeDocument
) -> None:
    path = program(tmp_path, "slow.py", SLOW_WITH_GRANDCHILD)
    resource = make_document("ExecResource", "slow", {"provider": path, "timeout": "2s"})
    assert raised(provider.apply, resource, error=base.ProviderTimeout) == (
        "exec provider: ExecResource//slow: providers/slow.py timed out after 2s during apply; "
        "its process group was killed"
    )
    grandchild = int((tmp_path / "grandchild.pid").read_text())
    deadline = time.monotonic() + 5
    while not gone(grandchild) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert gone(grandchild)


def test_invalid_json_is_reported_with_the_last_line_of_stderr(
    provider: exec_provider.ExecProvider, tmp_path: Path, make_document: MakeDocument
) -> None:
    source = (
        "import sys\nprint('starting', file=sys.stderr)\nprint('no', file=sys.stderr)\n"
        "print('ready!')\n"
    )
    resource = with_program(make_document, tmp_path, name="bad.py", source=source)
    assert raised(provider.observe, resource, error=base.ProviderError) == (
        "exec provider: ExecResource//web: providers/bad.py printed invalid JSON during observe "
        "(Expecting value: line 1 column 1 (char 0)): no"
    )


def test_a_non_zero_exit_is_reported_with_the_last_line_of_stderr(
    provider: exec_provider.ExecProvider, tmp_path: Path, make_document: MakeDocument
) -> None:
    source = "import sys\nsys.stderr.write('first\\nport 8080 is taken\\n\\n')\nsys.exit(4)\n"
    resource = with_program(make_document, tmp_path, name="exit.py", source=source)
    assert raised(provider.delete, resource, error=base.ProviderError) == (
        "exec provider: ExecResource//web: providers/exit.py exited with status 4 during delete: "
        "port 8080 is taken"
    )


def test_an_error_reply_is_reported_as_written(
    provider: exec_provider.ExecProvider, tmp_path: Path, make_document: MakeDocument
) -> None:
    source = "import json\nprint(json.dumps({'error': 'no capacity left'}))\n"
    resource = with_program(make_document, tmp_path, name="err.py", source=source)
    assert raised(provider.apply, resource, error=base.ProviderError) == (
        "exec provider: ExecResource//web: providers/err.py failed during apply: no capacity left"
    )


def test_an_executable_program_runs_as_argv_and_its_observed_reply_is_used(
    provider: exec_provider.ExecProvider, tmp_path: Path, make_document: MakeDocument
) -> None:
    source = '#!/bin/sh\ncat > /dev/null\necho \'{"observed": {"port": 1, "pid": 7}}\'\n'
    path = program(tmp_path, "shell-provider", source)
    (tmp_path / path).chmod(0o755)
    resource = make_document("ExecResource", "web", {"provider": path, "desired": {"port": 1}})
    observed = provider.apply(resource)
    assert observed == {"port": 1, "pid": 7}
    assert provider.normalise(resource.body, observed) == resource.body


def test_programs_must_stay_inside_the_repository(
    provider: exec_provider.ExecProvider, tmp_path: Path, make_document: MakeDocument
) -> None:
    resource = make_document("ExecResource", "web", {"provider": "../outside.py"})
    assert raised(provider.observe, resource, error=ProblemsError) == (
        "resources/managed.yaml:1 spec.provider: ../outside.py is outside the repository "
        "(ExecResource//web, exec provider)"
    )


def test_missing_programs_and_bad_timeouts_are_spec_problems(
    provider: exec_provider.ExecProvider, make_document: MakeDocument
) -> None:
    missing = make_document("ExecResource", "web", {"provider": "providers/nope.py"})
    assert raised(provider.observe, missing, error=ProblemsError) == (
        "resources/managed.yaml:1 spec.provider: providers/nope.py: no such program "
        "(ExecResource//web, exec provider)"
    )
    bad = make_document("ExecResource", "web", {"provider": "p.py", "timeout": "soon"})
    assert raised(provider.observe, bad, error=ProblemsError) == (
        'resources/managed.yaml:1 spec.timeout: must be a duration like "30s" '
        "(ExecResource//web, exec provider)"
    )


def test_an_exec_programs_group_is_entered_for_its_object(
    tmp_path: Path, make_document: MakeDocument
) -> None:
    seen: list[tuple[str, int, str]] = []

    class Ledger:
        """Writes down what it is told, checking the group is alive when entered."""

        def started(self, pgid: int, owner: str) -> None:
            seen.append(("started", pgid, owner))
            assert orphans.alive(pgid)

        def ended(self, pgid: int) -> None:
            seen.append(("ended", pgid, ""))

    program = tmp_path / "p.py"
    program.write_text('import json\nprint(json.dumps({"observed": None}))\n')
    provider = exec_provider.ExecProvider(base.ProviderSettings(repository_dir=tmp_path))
    provider.watch_children(Ledger(), source="src")
    resource = make_document("ExecResource", "web", {"provider": "p.py", "desired": {}})
    assert provider.observe(resource) is None
    [(started, pgid, owner), (ended, same, _)] = seen
    assert (started, owner, ended, same) == (
        "started",
        "object:src/ExecResource//web",
        "ended",
        pgid,
    )
