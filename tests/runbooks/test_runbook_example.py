"""The example repository's runbooks validate, dry-run and execute, with their variables
pointing into a temp folder."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler import assets
from tests.runbooks.conftest import Cli


@pytest.fixture
def example(tmp_path: Path) -> Path:
    root = tmp_path / "example"
    shutil.copytree(assets.template_dir(), root)
    return root


@pytest.fixture
def under_tmp(tmp_path: Path) -> Iterator[Path]:
    """A folder under /tmp, which the example runbooks' variable patterns require."""
    if str(tmp_path).startswith("/tmp/"):
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def test_they_validate_and_list(cli: Cli, example: Path) -> None:
    assert cli("runbook", "validate", example).lines == ["ok: 3 runbooks"]
    assert cli("runbook", "list", example).lines == [
        "NAME               TYPE         STEPS  VARIABLES                   DANGEROUS",
        "disk-full          incident     5      mount, threshold, work_dir  no",
        "rotate-logs        maintenance  5      log_dir, keep_days          no",
        "scale-web-service  incident     1      name, replicas              no",
    ]
    rows = json.loads(cli("runbook", "list", example, "--format", "json").out)["runbooks"]
    assert [(r["name"], r["dangerous"], r["steps"]) for r in rows] == [
        ("disk-full", False, 5),
        ("rotate-logs", False, 5),
        ("scale-web-service", False, 1),
    ]


def test_they_dry_run(cli: Cli, example: Path, under_tmp: Path) -> None:
    done = cli("runbook", "test", example, "disk-full", "--var", f"mount={under_tmp}")
    assert done.code == 0
    assert done.lines[-1] == "5 steps; dry run: nothing was executed"
    logs = under_tmp / "logs"
    done = cli("runbook", "test", example, "rotate-logs", "--var", f"log_dir={logs}")
    assert (done.code, logs.exists()) == (0, False)


def test_disk_full_executes(cli: Cli, example: Path, under_tmp: Path) -> None:
    work = under_tmp / "work"
    (work / "cache").mkdir(parents=True)
    stale, fresh = work / "cache" / "old.tmp", work / "cache" / "new.tmp"
    stale.write_text("x")
    fresh.write_text("x")
    week_ago = time.time() - 9 * 86400
    os.utime(stale, (week_ago, week_ago))
    reports = under_tmp / "reports"
    done = cli(
        "runbook",
        "execute",
        example,
        "disk-full",
        "--var",
        f"mount={under_tmp}",
        "--var",
        f"work_dir={work}",
        "--report-dir",
        reports,
    )
    assert done.code == 0, done.out
    assert (stale.exists(), fresh.exists()) == (False, True)
    report = json.loads((reports / "report.json").read_text())
    assert [s["status"] for s in report["steps"]] == ["succeeded"] * 5


def test_rotate_logs_executes(cli: Cli, example: Path, under_tmp: Path) -> None:
    logs = under_tmp / "logs"
    logs.mkdir()
    old_log, old_archive = logs / "app.log", logs / "older.log.gz"
    old_log.write_text("line\n")
    old_archive.write_bytes(b"")
    for path, days in ((old_log, 3), (old_archive, 30)):
        stamp = time.time() - days * 86400
        os.utime(path, (stamp, stamp))
    done = cli(
        "runbook",
        "execute",
        example,
        "rotate-logs",
        "--var",
        f"log_dir={logs}",
        "--report-dir",
        under_tmp / "reports",
    )
    assert done.code == 0, done.out
    assert sorted(p.name for p in logs.iterdir()) == ["app.log.gz"]
