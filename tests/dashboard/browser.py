"""What the dashboard tests share: the tokens, the served site, signing in, screenshots
(saved under `artifacts/screenshots/` at the repository root), and a seeded workflow run."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Page

from reconciler import runstate
from reconciler.decide import decider, ledger
from reconciler.decide.history import MemoryHistory
from reconciler.decide.records import Context, Option
from reconciler.policy.rego import RegoEngine
from reconciler.run import asks
from reconciler.specs.decisions import DecisionSettings
from reconciler.store import interfaces
from tests.api import live

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWER, OPERATOR = "viewer-token-0123456789", "operator-token-0123456789"
WORKFLOW_RUN = "wf-0001-nightly-backup"
DECISION = "dec-0001"
GATED_WORKFLOW = """apiVersion: reconciler.dev/v1
kind: Workflow
metadata: {name: gated}
spec:
  triggers: [{manual: {}}]
  steps:
    - {name: build, command: ["true"]}
    - {name: sign-off, kind: approval, dependsOn: [build],
       approval: {message: "ship it?", approvers: [otto]}}
    - {name: ship, dependsOn: [sign-off], command: ["true"]}
"""


def tokens() -> list[dict[str, str]]:
    return [
        {"name": "vera", "role": "viewer", "sha256": hashlib.sha256(VIEWER.encode()).hexdigest()},
        {
            "name": "otto",
            "role": "operator",
            "sha256": hashlib.sha256(OPERATOR.encode()).hexdigest(),
        },
    ]


@dataclasses.dataclass
class Site:
    live: live.Live
    repo: Path
    out: Path

    @property
    def url(self) -> str:
        return self.live.base_url

    def api(self, path: str) -> object:
        r = self.live.get(path, headers={"Authorization": f"Bearer {VIEWER}"})
        assert r.status_code == 200, r.text
        return r.json()


def seed_workflow_run(store: interfaces.Store) -> None:
    """A workflow run as the workflow engine writes one: a DAG, a retried step, and an
    approval step waiting for a human."""
    t0 = datetime.now(UTC) - timedelta(minutes=5)

    def step(
        name: str, status: runstate.StepStatus, start: float, end: float | None, attempt: int = 1
    ) -> runstate.StepRecord:
        return runstate.StepRecord(
            name=name,
            status=status,
            attempt=attempt,
            started_at=t0 + timedelta(seconds=start),
            finished_at=None if end is None else t0 + timedelta(seconds=end),
            output={"exitCode": 0} if end is not None else {},
        )

    store.create_run(
        runstate.RunRecord(
            id=WORKFLOW_RUN,
            kind=runstate.RunKind.WORKFLOW,
            name="nightly-backup",
            trigger="cron",
            revision="a" * 40,
            status=runstate.RunStatus.WAITING,
            started_at=t0,
            steps=(
                step("archive", runstate.StepStatus.FAILED, 0, 4),
                step("archive", runstate.StepStatus.SUCCEEDED, 5, 12, attempt=2),
                step("verify", runstate.StepStatus.SUCCEEDED, 12, 15),
                step("checksum", runstate.StepStatus.SUCCEEDED, 12, 14),
                replace(
                    step("approve-upload", runstate.StepStatus.WAITING, 15, None),
                    output={asks.ASKED: {"prompt": "Upload the backup?", "approvers": []}},
                ),
            ),
        )
    )


def seed_decision(store: interfaces.Store) -> None:
    """A remediation decision as the daemon takes one: scored by a repository rule (real
    regorus) and two recorded outcomes, waiting for an operator, started by the workflow run."""
    engine = RegoEngine()
    engine.add_module(
        "decisions.rego",
        "package reconciler.decisions.remediation\nimport rego.v1\n"
        'score["runbook:label-owner"] := 0.7\n'
        'reasons["runbook:label-owner"] contains "labels are safe to add"\n',
    )
    history = MemoryHistory([("remediation|File|off-hours", "runbook:label-owner", True)] * 2)
    record = decider.decide(
        Context(
            type="remediation",
            subject="owner/File//banner",
            kind="File",
            binding="owner",
            policy="files.owner",
            window="off-hours",
            facts={"resource": "File//banner", "messages": ["banner has no owner"]},
        ),
        [Option("runbook", "label-owner"), Option("workflow", "page-owner")],
        settings=DecisionSettings(),
        history=history,
        engine=engine,
        at=datetime.now(UTC).isoformat(),
    )
    store.put_daemon_decision(ledger.to_entry(replace(record, id=DECISION, run_id=WORKFLOW_RUN)))


def sign_in(page: Page, site: Site, token: str, *, next_path: str = "/") -> None:
    page.goto(f"{site.url}/login?next={next_path}")
    page.get_by_label("Access token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site.url}{next_path}")


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
