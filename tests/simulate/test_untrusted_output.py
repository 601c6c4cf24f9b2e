"""What crosses from the sandbox is bounded: a head policy that prints hundreds of MB to
stderr (and then dies, so that the caller reads it) or denies with a 64 MiB message leaves
the caller's memory flat and the report small, every cut marked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from reconciler.clock import SystemClock
from reconciler.simulate import bounds, process
from reconciler.simulate.records import Issue
from reconciler.simulate.settings import SimulateSettings
from tests.simulate.conftest import PullRequest

BINDING = """\
apiVersion: reconciler.dev/v1
kind: PolicyBinding
metadata: {name: loud}
spec: {policy: org.loud, scope: {kinds: [Deployment]}, enforcement: strict}
"""
CHUNK = "x" * 64
HUGE_MESSAGE = f"""\
package org.loud

import rego.v1

deny contains msg if {{
	input.resource.metadata.name == "payments-api"
	msg := concat("", ["{CHUNK}" | some i in numbers.range(1, 1048576)])
}}
"""
PRINTER = f"""\
package org.loud

import rego.v1

deny contains msg if {{
	input.resource.metadata.name == "payments-api"
	big := concat("", ["{CHUNK}" | some i in numbers.range(1, 1048576)])
	printed := [i | some i in numbers.range(1, 4); print(big, i)]
	msg := f(count(printed))
}}

f(x) := f(x)
"""
# Runs the CLI in a process of its own and reports that process' peak RSS (not the
# sandbox's). VmHWM, not ru_maxrss: the latter keeps the forking test process' size.
PEAK = """\
import re, sys
from reconciler import cli
code = cli.main(sys.argv[1:])
with open("/proc/self/status") as status:
    print(int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read())[1]) // 1024, file=sys.stderr)
sys.exit(code)
"""
PEAK_MIB = 150  # the CLI's interpreter and libraries (about 90 MiB) and a bounded report


def simulate_in_a_process(pr: PullRequest, out: Path) -> tuple[dict[str, object], int]:
    done = subprocess.run(
        [
            *(sys.executable, "-c", PEAK, "simulate", str(pr.repo)),
            *("--base", pr.base, "--head", pr.head, "--format", "json", "--output", str(out)),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    return json.loads(out.read_text()), int(done.stderr.strip().splitlines()[-1])


def test_a_64_mib_deny_message_is_cut_with_a_marker_and_memory_stays_flat(
    pr: PullRequest, tmp_path: Path
) -> None:
    pr.change({"policies/org/loud.rego": HUGE_MESSAGE, "policies/org/loud.yaml": BINDING})
    report, peak_mib = simulate_in_a_process(pr, tmp_path / "report.json")
    deltas = report["decisions"]["deltas"]  # type: ignore[index]
    loud = [d for d in deltas if d["binding"] == "loud"]
    cut = 64 * 1048576 - bounds.MESSAGE_CHARS
    assert [d["messages"] for d in loud] == [
        ["x" * bounds.MESSAGE_CHARS + f"… [truncated: {cut} more characters]"]
    ]
    assert len((tmp_path / "report.json").read_bytes()) < 1_000_000
    assert peak_mib < PEAK_MIB


def test_printing_hundreds_of_mb_to_stderr_is_stopped_at_the_output_limit(
    pr: PullRequest, tmp_path: Path
) -> None:
    pr.change({"policies/org/loud.rego": PRINTER, "policies/org/loud.yaml": BINDING})
    report, peak_mib = simulate_in_a_process(pr, tmp_path / "report.json")
    assert report["errors"] == [
        Issue(
            section="decisions",
            message="head policies could not be evaluated: wrote more than the 16 MiB "
            "output limit to its error output",
        ).model_dump(mode="json"),
        Issue(
            section="tests", message="not run: an earlier stage failed", blocking=False
        ).model_dump(mode="json"),
        Issue(
            section="replay", message="not run: an earlier stage failed", blocking=False
        ).model_dump(mode="json"),
    ]
    assert peak_mib < PEAK_MIB


def test_a_message_line_past_the_output_limit_is_refused_without_reading_it_whole() -> None:
    code = (
        "import json, sys\n"
        "sys.stdout.write(json.dumps({'stage': 'decisions'}) + '\\n')\n"
        "sys.stdout.write(json.dumps({'section': 'decisions', 'value': 'y' * (3 << 20)}))\n"
    )
    collected = process.run_program(
        [sys.executable, "-c", code],
        request={},
        settings=SimulateSettings(output_mib=1),
        clock=SystemClock(),
        inputs_for=lambda facts: {},
    )
    assert collected.issues[0] == Issue(
        section="decisions",
        message="head policies could not be evaluated: sent a message larger than the 1 MiB "
        "output limit",
    )


def test_clip_marks_what_it_cut_and_leaves_short_text_alone() -> None:
    assert bounds.clip("abc", limit=3) == "abc"
    assert bounds.clip("abcdef", limit=3) == "abc… [truncated: 3 more characters]"
    value = {"messages": [f"m{i}" for i in range(bounds.MESSAGES + 2)], "n": 1, "s": "z" * 9}
    assert bounds.bound(value, limit=4) == {
        "messages": [*(f"m{i}" for i in range(bounds.MESSAGES)), "… [2 more messages]"],
        "n": 1,
        "s": "zzzz… [truncated: 5 more characters]",
    }
