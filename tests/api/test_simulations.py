"""Pull-request simulations in the daemon, end to end: a signed forge delivery for a
repository the daemon follows queues a simulation, its report is stored and served, and
the verdict is posted to a local HTTP server standing in for the forge API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.events import EventType
from reconciler.runstate import RunKind, RunStatus
from reconciler.store.interfaces import SimulationStatus
from tests.api import forge_server, live, prs
from tests.api.prs import PrRepo

MARKER = "<!-- reconciler-simulation part 1/1 -->"


@pytest.fixture
def repo(tmp_path: Path) -> PrRepo:
    return prs.make(tmp_path / "repo", out=tmp_path / "out")


@pytest.fixture
def forge() -> Iterator[forge_server.Forge]:
    with forge_server.serve() as running:
        yield running


@pytest.fixture
def served(
    tmp_path: Path, repo: PrRepo, forge: forge_server.Forge, monkeypatch: pytest.MonkeyPatch
) -> Iterator[live.Live]:
    for name, value in (
        (prs.GITHUB_SECRET_ENV, prs.SECRET),
        (prs.GITLAB_TOKEN_ENV, prs.GL_HOOK_TOKEN),
        (prs.GITHUB_API_ENV, prs.GH_TOKEN),
        (prs.GITLAB_API_ENV, prs.GL_TOKEN),
    ):
        monkeypatch.setenv(name, value)
    settings = prs.settings(
        tmp_path, repo, forge_url=forge.url, simulations={"cpuSeconds": 5, "wallSeconds": 60}
    )
    with live.serve(settings) as running:
        running.wait_for(lambda: running.passes("policies") >= 1, "the first reconcile")
        yield running


def _started(response: object) -> str:
    assert response.status_code == 202, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["kind"] == "pull_request" and body["triggered"] == []
    assert len(body["simulations"]) == 1
    return str(body["simulations"][0])


def test_a_signed_pull_request_is_simulated_blocked_and_reported_to_github(
    served: live.Live, repo: PrRepo, forge: forge_server.Forge
) -> None:
    sim_id = _started(prs.deliver_github(served, prs.github_payload(repo, head=repo.head)))
    found = prs.finished(served, sim_id)
    assert (found.status, found.blocked, found.conclusion) == (
        SimulationStatus.SUCCEEDED,
        True,
        "failure",
    )
    assert (found.source, found.forge, found.number, found.base, found.head) == (
        "policies",
        "github",
        2,
        repo.base,
        repo.head,
    )
    assert found.summary == "❌ would be blocked: 1 newly denied strict decision(s)"
    assert found.report is not None
    denied = [
        (d["delta"], d["key"], d["policy"], d["blocking"], d["messages"])
        for d in found.report["decisions"]["deltas"]
    ]
    assert denied == [
        ("newly-denied", "File//banner", "files.owner", True, ["banner has no owner"])
    ]
    assert found.forge_error is None
    [check] = forge.calls("POST", r"^/repos/acme/policies/check-runs$")
    assert check.headers["authorization"] == f"Bearer {prs.GH_TOKEN}"
    assert check.headers["accept"] == "application/vnd.github+json"
    assert (check.body["head_sha"], check.body["conclusion"]) == (repo.head, "failure")
    [comment] = forge.calls("POST", r"^/repos/acme/policies/issues/2/comments$")
    assert comment.body["body"] == f"{MARKER}\n{found.markdown[0]}"
    assert found.markdown[0].startswith(
        f"### Reconciler simulation `{repo.base[:7]}..{repo.head[:7]}`: ❌ would be blocked"
    )
    run = served.daemon.store.get_run(sim_id)
    assert run is not None
    assert (run.kind, run.name, run.trigger, run.status, run.revision) == (
        RunKind.SIMULATION,
        "policies#2",
        "webhook:github",
        RunStatus.SUCCEEDED,
        repo.head,
    )
    served.wait_for(
        lambda: any(
            e.type == EventType.SIMULATION_FINISHED.value
            for e in served.daemon.store.events(limit=1000)
        ),
        "the SimulationFinished event",
    )


def test_a_synchronize_delivery_edits_the_comment_instead_of_adding_one(
    served: live.Live, repo: PrRepo, forge: forge_server.Forge
) -> None:
    first = _started(prs.deliver_github(served, prs.github_payload(repo, head=repo.head)))
    prs.finished(served, first)
    fixed = repo.head_commit(
        {
            "policies/owner.rego": live.OWNER_REGO,
            "policies/bindings.yaml": live.BINDING_YAML.replace("strict", "advisory"),
        },
        number=2,
    )
    body = prs.github_payload(repo, head=fixed, action="synchronize")
    second = prs.finished(served, _started(prs.deliver_github(served, body)))
    assert (second.head, second.blocked, second.conclusion) == (fixed, False, "neutral")
    assert len(forge.calls("POST", r"/issues/2/comments$")) == 1
    [edit] = forge.calls("PATCH", r"^/repos/acme/policies/issues/comments/\d+$")
    assert edit.body["body"] == f"{MARKER}\n{second.markdown[0]}"
    assert [c["body"] for c in forge.comments.values()] == [edit.body["body"]]
    assert [c.body["conclusion"] for c in forge.calls("POST", "/check-runs$")] == [
        "failure",
        "neutral",
    ]


def test_an_unsigned_delivery_is_401_and_simulates_nothing(
    served: live.Live, repo: PrRepo, forge: forge_server.Forge
) -> None:
    r = prs.deliver_github(served, prs.github_payload(repo, head=repo.head), signed=False)
    assert (r.status_code, r.json()) == (401, {"error": "missing X-Hub-Signature-256 header"})
    assert served.daemon.store.list_simulations() == []
    assert forge.requests == []


@pytest.mark.parametrize("action", ["closed", "labeled", "edited"])
def test_other_actions_are_accepted_and_ignored(
    served: live.Live, repo: PrRepo, action: str
) -> None:
    r = prs.deliver_github(served, prs.github_payload(repo, head=repo.head, action=action))
    assert (r.status_code, r.json()) == (
        202,
        {"kind": "pull_request", "triggered": [], "simulations": []},
    )
    assert served.daemon.store.list_simulations() == []


def test_a_gitlab_merge_request_gets_a_commit_status_and_a_note(
    served: live.Live, repo: PrRepo, forge: forge_server.Forge
) -> None:
    head = repo.head_commit(
        {"policies/owner.rego": live.OWNER_REGO, "policies/bindings.yaml": live.BINDING_YAML},
        number=1,
    )
    found = prs.finished(
        served, _started(prs.deliver_gitlab(served, prs.gitlab_payload(repo, head=head)))
    )
    assert (found.forge, found.number, found.base, found.head, found.blocked) == (
        "gitlab",
        1,
        repo.base,
        head,
        True,
    )
    [status] = forge.calls("POST", rf"^/projects/14/statuses/{head}$")
    assert status.headers["private-token"] == prs.GL_TOKEN
    assert (status.body["state"], status.body["name"]) == ("failed", "reconciler simulate")
    [note] = forge.calls("POST", r"^/projects/14/merge_requests/1/notes$")
    assert note.body["body"].startswith(MARKER)


def test_a_forge_that_refuses_is_recorded_without_the_token(
    served: live.Live, repo: PrRepo, forge: forge_server.Forge
) -> None:
    forge.fail_with = 401
    found = prs.finished(
        served, _started(prs.deliver_github(served, prs.github_payload(repo, head=repo.head)))
    )
    assert (found.status, found.blocked) == (SimulationStatus.SUCCEEDED, True)
    assert found.forge_error == (
        'POST /repos/acme/policies/check-runs answered 401: {"message": "Bad credentials"}'
    )
    run = served.daemon.store.get_run(found.id)
    assert run is not None and [s.name for s in run.steps] == ["simulate", "report"]
    assert served.get("/healthz").status_code == 200


def test_a_policy_that_recurses_forever_fails_the_simulation_with_a_reason(
    served: live.Live, repo: PrRepo
) -> None:
    head = repo.head_commit(
        {"policies/runaway.rego": prs.RECURSION, "policies/runaway.yaml": prs.RUNAWAY_BINDING},
        number=2,
    )
    found = prs.finished(
        served, _started(prs.deliver_github(served, prs.github_payload(repo, head=head)))
    )
    assert (found.status, found.blocked, found.conclusion) == (
        SimulationStatus.FAILED,
        True,
        "failure",
    )
    reason = (
        "decisions: head policies could not be evaluated: the policy engine overflowed "
        "its stack (SIGSEGV): a rule or function that calls itself without end?"
    )
    assert found.summary == f"❌ would be blocked: {reason}"
    assert found.report is not None and found.report["blockingReasons"] == [reason]
    assert served.get("/healthz").json() == {"status": "ok"}
    assert served.get("/api/v1/sources/policies").json()["revision"] == repo.base
    assert served.get(f"/api/v1/simulations/{found.id}").json()["status"] == "failed"
