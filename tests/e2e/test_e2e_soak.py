"""The kill -9 soak at its quick size (benchmarks/soak.py: 5 kills at random points of
passes and workflow runs, then a store check against what the provider program and the
steps wrote down): nothing lost or duplicated, no non-idempotent step run twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_five_kills_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    counts = tmp_path / "counts.json"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "soak.py"), "--quick", "--json", str(counts)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    found = json.loads(counts.read_text())
    assert found["kills"] == 5
    assert found["checked_applies"] > 0 and found["checked_decisions"] > 0
    assert found["checked_audit_entries"] > 0
    problems = {
        k: v for k, v in found.items() if not k.startswith(("checked_", "kills", "rejected"))
    }
    assert problems and not any(problems.values()), problems
