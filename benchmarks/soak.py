"""Kill -9 soak: the daemon is killed at random points of its passes and workflow runs,
restarted each time, and the store is then checked against what really happened.

A local repository holds SERVICES ExecResources behind a provider program, a monitor
policy that logs a decision for every change, and a workflow of a non-idempotent step and
an idempotent one. Each round starts `reconciler serve`, commits a new version of every
service and/or starts a workflow run through the API, answers the questions a restart asks
about interrupted non-idempotent steps (rejecting them: never run twice), waits a random
time and kills the daemon with SIGKILL. A last daemon converges and finishes every run.

What really happened is written outside the store, by the processes doing the work: the
provider program logs each apply's start and end (with the daemon that called it), each
step logs its execution. The store is then checked:

- runs: every run the API started is stored once, none is left running or waiting, no
  step attempt is stored twice, every execution of a step has its attempt recorded;
- steps: no non-idempotent step executed twice;
- decisions, per change (an object at a revision), which is what the product promises:
  every change whose apply started has its gate decision logged (none lost), and no
  change has more than one (none duplicated). A change is gated once whichever daemon
  applies it: a wave's decisions are committed before its first apply, so a daemon killed
  after that commit leaves decided changes that the next daemon applies under the
  decisions already logged, without logging them again. A decision is therefore not
  charged to the daemon life that logged it (the apply may be another's), and a decided
  change that a newer revision overtook before any apply keeps its one decision with no
  apply (that is no loss: the newer revision is a different change, gated afresh). No
  apply fails in the soak, so no change is legitimately gated twice;
- audit: the hash chain verifies; every object's applied revision has exactly one
  `ResourceApplied` entry, and no entry names a revision that was never applied.

It prints the counts, then the time a restart takes to converge against a clean start
(ratio line). `--quick` does 5 kills; `--json FILE` writes the counts for a test.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from timing import ratio

SERVICES = [f"svc-{n}" for n in range(1, 5)]
SERVING = re.compile(r"serving (http://\S+)")

PROVIDER = """\
import json, os, pathlib, sys, time

PARENT = os.getppid()  # the daemon that started this apply (for reading the journal)
STATE = pathlib.Path(__STATE__)
request = json.loads(sys.stdin.read())
resource = request["resource"]
name, desired = resource["metadata"]["name"], resource["spec"]["desired"]
target = STATE / "services" / (name + ".json")
if request["action"] == "observe":
    print(json.dumps({"observed": json.loads(target.read_text()) if target.exists() else None}))
elif request["action"] == "apply":
    line = f"{PARENT} {time.time()} {name} {desired['version']}"
    with (STATE / "applies.log").open("a") as log:
        log.write(f"start {line}\\n")
    time.sleep(0.15)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".tmp")
    partial.write_text(json.dumps(desired))
    partial.replace(target)
    with (STATE / "applies.log").open("a") as log:
        log.write(f"end {line}\\n")
    print(json.dumps({"ok": True}))
else:
    target.unlink(missing_ok=True)
    print(json.dumps({"ok": True}))
"""

STEP = 'echo "$1 $2" >> "$3"; sleep 0.3'

WORKFLOW = """\
apiVersion: reconciler.dev/v1
kind: Workflow
metadata: {{name: soak}}
spec:
  triggers: [{{manual: {{}}}}]
  steps:
    - name: once
      command: [sh, -c, '{step}', sh, "{{{{ run.id }}}}", once, {journal}]
    - name: again
      dependsOn: [once]
      idempotent: true
      command: [sh, -c, '{step}', sh, "{{{{ run.id }}}}", again, {journal}]
"""

POLICY = """\
package soak.audit

import rego.v1

warn contains msg if {
\tmsg := sprintf("%s changes", [input.resource.metadata.name])
}
"""

BINDING = """\
apiVersion: reconciler.dev/v1
kind: PolicyBinding
metadata: {name: audit-services}
spec:
  policy: soak.audit
  input: reconciler
  scope: {kinds: [ExecResource]}
  enforcement: monitor
"""

SETTINGS = """\
apiVersion: reconciler.dev/v1
kind: Settings
metadata: {name: soak}
spec: {providers: {ExecResource: exec}}
"""


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    ident = ["-c", "user.name=soak", "-c", "user.email=soak@example.com"]
    done = subprocess.run(
        ["git", *ident, *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def services(version: int) -> dict[str, str]:
    return {
        f"resources/{name}.yaml": (
            "apiVersion: reconciler.dev/v1\nkind: ExecResource\n"
            f"metadata: {{name: {name}}}\n"
            f"spec: {{provider: providers/service.py, desired: {{version: {version}}}}}\n"
        )
        for name in SERVICES
    }


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@dataclass
class Life:
    """One daemon process: when it lived and how it ended."""

    pid: int
    started: float
    ended: float = 0.0
    killed: bool = False


@dataclass
class Soak:
    root: Path
    rng: random.Random
    lives: list[Life] = field(default_factory=list)
    started_runs: list[str] = field(default_factory=list)
    revisions: dict[int, str] = field(default_factory=dict)  # version -> commit
    version: int = 1
    rejected: int = 0
    process: subprocess.Popen[str] | None = None  # the daemon living now

    @property
    def repo(self) -> Path:
        return self.root / "repo"

    @property
    def state(self) -> Path:
        return self.root / "state"

    def setup(self) -> None:
        self.repo.mkdir(parents=True)
        self.state.mkdir()
        git(self.repo, "init", "--quiet", "--initial-branch=main")
        program = PROVIDER.replace("__STATE__", json.dumps(str(self.state)))
        journal = json.dumps(str(self.state / "steps.log"))
        files = {
            "reconciler.yaml": SETTINGS,
            "providers/service.py": program,
            "policies/audit.rego": POLICY,
            "policies/bindings.yaml": BINDING,
            "workflows/soak.yaml": WORKFLOW.format(step=STEP, journal=journal),
            **services(1),
        }
        self.revisions[1] = commit(self.repo, files, "version 1")
        config = {
            "dataDir": str(self.root / "data"),
            "http": {"port": 0},
            "sources": [{"name": "repo", "path": str(self.repo), "interval": "1s"}],
            "reconcile": {"orphanWait": "3s"},
        }
        (self.root / "daemon.json").write_text(json.dumps(config))

    def start(self) -> tuple[subprocess.Popen[str], str]:
        argv = [sys.executable, "-m", "reconciler", "serve", "--config"]
        argv += [str(self.root / "daemon.json"), "--file-root", str(self.root)]
        log = (self.root / "daemon.log").open("a")
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, text=True
        )
        assert process.stdout is not None
        self.process = process
        self.lives.append(Life(pid=process.pid, started=time.time()))
        for line in process.stdout:
            if found := SERVING.search(line):
                return process, found.group(1).replace("0.0.0.0", "127.0.0.1")
        log.close()
        tail = (self.root / "daemon.log").read_text().splitlines()[-20:]
        raise SystemExit("the daemon exited before serving:\n" + "\n".join(tail))

    def round(self) -> None:
        """Start a daemon, give it work, kill it at a random point."""
        process, url = self.start()
        with httpx.Client(base_url=url, timeout=10) as client:
            self.answer_resumes(client)
            if self.rng.random() < 0.7:
                self.version += 1
                self.revisions[self.version] = commit(
                    self.repo, services(self.version), f"version {self.version}"
                )
            if self.rng.random() < 0.6:
                self.start_run(client)
            time.sleep(self.rng.uniform(0.05, 1.5))
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.lives[-1].ended, self.lives[-1].killed = time.time(), True

    def stop(self) -> None:
        """Kill the daemon living now, if any: a soak that fails leaves none running."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def start_run(self, client: httpx.Client) -> None:
        for _ in range(100):  # the workflow is known once the first revision is loaded
            response = client.post("/api/v1/workflows/soak/run", json={})
            if response.status_code == 202:
                self.started_runs.append(response.json()["run"])
                return
            time.sleep(0.05)
        raise SystemExit(f"could not start a run: {response.status_code} {response.text}")

    def answer_resumes(self, client: httpx.Client) -> None:
        """Reject every question about an interrupted non-idempotent step. A daemon still
        starting (its workflow engine not up yet) answers with an error: the questions are
        asked again at the next round, and by the last daemon until every run is done."""
        try:
            response = client.get("/api/v1/approvals")
        except httpx.HTTPError:
            return
        if response.status_code != 200:
            return
        waiting = response.json()["approvals"]
        for approval in waiting:
            if approval["resume"]:
                run = approval["runId"].replace("#", "%23")
                answer = {"approved": False, "approver": "soak", "comment": "never twice"}
                client.post(f"/api/v1/approvals/{run}/{approval['step']}", json=answer)
                self.rejected += 1

    def finish(self) -> float:
        """A last daemon converges and ends every run; the seconds it took to converge."""
        process, url = self.start()
        began = time.monotonic()
        converged = 0.0
        with httpx.Client(base_url=url, timeout=10) as client:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                self.answer_resumes(client)
                if not converged and self.converged(client):
                    converged = time.monotonic() - began
                runs = client.get("/api/v1/runs?limit=10000").json()["runs"]
                open_runs = [r for r in runs if r["status"] in ("running", "waiting", "pending")]
                if converged and not open_runs:
                    break
                time.sleep(0.1)
            else:
                raise SystemExit("the last daemon did not converge and finish its runs")
        process.send_signal(signal.SIGTERM)
        if process.wait(timeout=60) != 0:
            raise SystemExit("the last daemon did not stop cleanly")
        self.lives[-1].ended = time.time()
        return converged

    def converged(self, client: httpx.Client) -> bool:
        want = {"version": self.version}
        for name in SERVICES:
            path = self.state / "services" / f"{name}.json"
            if not path.exists() or json.loads(path.read_text()) != want:
                return False
        resources = client.get("/api/v1/resources").json()["resources"]
        head = self.revisions[self.version]
        return all(r.get("lastAppliedRevision") == head for r in resources) and len(
            resources
        ) == len(SERVICES)


def check(soak: Soak) -> dict[str, Any]:
    """Compare the store with the journals; every count but `checked_*` should be zero."""
    db = sqlite3.connect(soak.root / "data" / "reconciler.db")
    found: dict[str, Any] = {"kills": sum(life.killed for life in soak.lives)}
    found.update(_check_runs(db, soak))
    found.update(_check_decisions(db, soak))
    found.update(_check_audit(db, soak))
    db.close()
    return found


def _journal(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def _check_runs(db: sqlite3.Connection, soak: Soak) -> dict[str, int]:
    runs = Counter(
        rid for (rid,) in db.execute("SELECT id FROM runs WHERE kind = 'workflow'").fetchall()
    )
    attempts = db.execute("SELECT run_id, name, attempt FROM run_steps").fetchall()
    recorded = Counter((run, step) for run, step, _ in attempts if not step.startswith("#"))
    executed = Counter((run, step) for run, step in _journal(soak.state / "steps.log"))
    still_open = db.execute(
        "SELECT count(*) FROM runs WHERE status IN ('running', 'waiting', 'pending')"
    ).fetchone()[0]
    running_steps = db.execute(
        "SELECT count(*) FROM run_steps WHERE status = 'running'"
    ).fetchone()[0]
    return {
        "checked_runs": len(soak.started_runs),
        "checked_step_executions": sum(executed.values()),
        "runs_lost": sum(1 for r in soak.started_runs if runs[r] == 0),
        "runs_duplicated": sum(n - 1 for n in runs.values() if n > 1),
        "runs_left_open": still_open + running_steps,
        "step_attempts_duplicated": len(attempts) - len(set(attempts)),
        "step_executions_unrecorded": sum(max(0, n - recorded[key]) for key, n in executed.items()),
        "non_idempotent_steps_run_twice": sum(
            1 for (_, step), n in executed.items() if step == "once" and n > 1
        ),
    }


def _check_decisions(db: sqlite3.Connection, soak: Soak) -> dict[str, int]:
    version_of = {sha: v for v, sha in soak.revisions.items()}
    rows = db.execute(
        "SELECT name, revision FROM decisions WHERE policy = 'soak.audit' AND outcome = 'warn'"
    ).fetchall()
    logged = Counter((name, version_of.get(revision, -1)) for name, revision in rows)
    starts = Counter(
        (name, int(version))
        for word, _, _, name, version in _journal(soak.state / "applies.log")
        if word == "start"
    )
    return {
        "checked_applies": sum(starts.values()),
        "checked_decisions": sum(logged.values()),
        "decisions_lost": sum(1 for change in starts if logged[change] == 0),
        "decisions_duplicated": sum(n - 1 for n in logged.values() if n > 1),
    }


def _check_audit(db: sqlite3.Connection, soak: Soak) -> dict[str, int]:
    data_dir = str(soak.root / "data")
    argv = [sys.executable, "-m", "reconciler", "audit", "verify", "--data-dir", data_dir]
    verify = subprocess.run(argv, capture_output=True, text=True)
    applied = Counter(
        (subject, json.loads(data).get("revision"))
        for subject, data in db.execute(
            "SELECT subject, data FROM audit_log WHERE type = 'ResourceApplied'"
        ).fetchall()
    )
    ends = {
        (f"ExecResource//{name}", soak.revisions[int(version)])
        for word, _, _, name, version in _journal(soak.state / "applies.log")
        if word == "end"
    }
    final = {(f"ExecResource//{n}", soak.revisions[soak.version]) for n in SERVICES}
    return {
        "checked_audit_entries": db.execute("SELECT count(*) FROM audit_log").fetchone()[0],
        "audit_chain_broken": int(verify.returncode != 0),
        "audit_applied_lost": sum(1 for key in final if applied[key] == 0),
        "audit_applied_duplicated": sum(n - 1 for n in applied.values() if n > 1),
        "audit_applied_never_happened": sum(1 for key in applied if key not in ends),
    }


def clean_start(root: Path) -> float:
    """The baseline: seconds a fresh daemon takes to converge the same repository."""
    soak = Soak(root=root, rng=random.Random(0))
    soak.setup()
    try:
        return soak.finish()
    finally:
        soak.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="5 kills")
    parser.add_argument("--json", type=Path, help="also write the counts here")
    parser.add_argument("--keep", type=Path, help="work in this (new) folder and keep it")
    args = parser.parse_args(argv)
    kills = 5 if args.quick else args.kills
    with tempfile.TemporaryDirectory(prefix="soak-") as scratch:
        tmp = args.keep or scratch
        baseline = clean_start(Path(tmp) / "clean")
        soak = Soak(root=Path(tmp) / "soak", rng=random.Random(args.seed))
        soak.setup()
        try:
            for _ in range(kills):
                soak.round()
            restart = soak.finish()
        finally:
            soak.stop()
        found = check(soak)
    found["rejected_resumes"] = soak.rejected
    for key, value in found.items():
        print(f"{key}: {value}")
    bad = sum(v for k, v in found.items() if not k.startswith(("checked_", "kills", "rejected")))
    print(f"lost or duplicated records: {bad} over {found['kills']} kills")
    ratio("converge after the last kill", restart, baseline, against="a clean start")
    if args.json:
        args.json.write_text(json.dumps(found))
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
