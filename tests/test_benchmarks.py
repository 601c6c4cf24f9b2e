"""Every benchmark script still runs: each at its tiny `--quick` size, in a fresh
interpreter, printing at least one `ratio` line in the one shape they share (ours /
baseline, lower is better, naming the baseline; a growth slope may be negative). Timings
are not asserted: speed belongs to the scripts' own output."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
HELPERS = {"timing.py", "fleet.py"}
SCRIPTS = sorted(p.name for p in BENCHMARKS.glob("*.py") if p.name not in HELPERS)
RATIO = re.compile(
    r"^ratio (?P<what>.+): (?P<value>\d+\.\d\d) \(ours / (?P<base>.+); lower is better\)$"
)


def test_every_script_is_listed_here() -> None:
    assert len(SCRIPTS) >= 12 and "growth.py" in SCRIPTS


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_script_runs_quick_and_prints_its_ratios(script: str) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("ratio")]
    assert lines, done.stdout
    for line in lines:
        assert RATIO.match(line) is not None, line


def test_the_ratio_helper_prints_ours_over_baseline(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("timing", BENCHMARKS / "timing.py")
    assert spec is not None and spec.loader is not None
    timing = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(timing)
    assert timing.ratio("pass", 3.0, 2.0, against="the floor") == 1.5
    assert capsys.readouterr().out == "ratio pass: 1.50 (ours / the floor; lower is better)\n"
