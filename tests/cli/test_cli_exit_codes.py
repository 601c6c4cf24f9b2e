"""Exit codes and the one line a user sees: a bug (3, with the traceback in a log file),
an interrupt (130), a usage mistake (1). Bugs and interrupts are provoked in-process."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reconciler import __version__
from reconciler import cli as entry
from reconciler.source.revision import Tree
from reconciler.specs import loader
from reconciler.specs.snapshot import Snapshot
from tests import gitrepo
from tests.cli.conftest import Cli


def boom(tree: Tree, **_: object) -> Snapshot:
    raise RuntimeError("loader exploded\nsecond line of detail")


def interrupt(tree: Tree, **_: object) -> Snapshot:
    raise KeyboardInterrupt


def test_a_bug_exits_3_with_one_line_naming_the_traceback_log(
    shared_example: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("RECONCILER_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setattr(loader, "load", boom)
    assert entry.main(["validate", str(shared_example)]) == 3
    out, err = capsys.readouterr()
    assert out == ""
    match = re.fullmatch(
        r"internal error: RuntimeError: loader exploded \(traceback in (?P<log>\S+)\)\n", err
    )
    assert match, err
    log = Path(match["log"])
    assert log.parent == tmp_path / "logs"
    assert re.fullmatch(r"reconciler-crash-\d{8}T\d{6}Z-\d+\.log", log.name)
    text = log.read_text()
    assert text.startswith("Traceback (most recent call last):\n")
    assert "in boom\n" in text
    assert text.endswith("RuntimeError: loader exploded\nsecond line of detail\n")


def test_interrupt_exits_130(
    shared_example: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(loader, "load", interrupt)
    assert entry.main(["eval", str(shared_example)]) == 130
    assert capsys.readouterr() == ("", "interrupted\n")


def test_usage_mistakes_exit_1(cli: Cli) -> None:
    done = cli("validate", "--format", "yaml")
    assert done.code == 1
    assert done.err_lines[-1] == (
        "reconciler validate: error: argument --format: invalid choice: 'yaml'"
        " (choose from 'text', 'json')"
    )
    assert cli("frobnicate").code == 1


def test_help_and_version_exit_0(cli: Cli) -> None:
    assert cli("--help").code == 0
    version = cli("--version")
    assert (version.code, version.out) == (0, f"reconciler {__version__}\n")


@pytest.mark.parametrize("verb", [["serve", "--port", "0"], ["decisions", "list"]])
def test_a_corrupt_database_exits_1_naming_the_file(
    verb: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "reconciler.db").write_bytes(b"SQLite format 3\0" + b"not pages" * 1000)
    repo = tmp_path / "repo"
    gitrepo.make_repo(repo, {"README.md": "empty\n"})
    args = [*verb, "--data-dir", str(data)] + ([str(repo)] if verb[0] == "serve" else [])
    assert entry.main(args) == 1
    assert capsys.readouterr().err == (
        f"error: {data / 'reconciler.db'}: cannot open the database: file is not a database\n"
    )


def test_a_database_that_cannot_be_opened_exits_1_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    (data / "reconciler.db").mkdir(parents=True)  # a directory where the file should be
    assert entry.main(["decisions", "list", "--data-dir", str(data)]) == 1
    assert capsys.readouterr().err == (
        f"error: {data / 'reconciler.db'}: no store here"
        " (give the daemon's --data-dir or --store-url)\n"
    )
    repo = tmp_path / "repo"
    gitrepo.make_repo(repo, {"README.md": "empty\n"})
    assert entry.main(["serve", "--port", "0", "--data-dir", str(data), str(repo)]) == 1
    assert capsys.readouterr().err == (
        f"error: {data / 'reconciler.db'}: cannot open the database: unable to open database file\n"
    )
