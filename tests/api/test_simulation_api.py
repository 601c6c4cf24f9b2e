"""The simulation endpoints over HTTP (list, one report, Markdown, starting one by hand)
and the queue's promises: at most `maxConcurrent` at once, a newer delivery for the same
pull request supersedes a queued one."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.reconcile.simulations import runs as simulation_run
from reconciler.store.interfaces import SimulationStatus
from tests.api import live, prs
from tests.api.prs import PrRepo


@pytest.fixture
def repo(tmp_path: Path) -> PrRepo:
    return prs.make(tmp_path / "repo", out=tmp_path / "out")


@pytest.fixture
def served(tmp_path: Path, repo: PrRepo, monkeypatch: pytest.MonkeyPatch) -> Iterator[live.Live]:
    monkeypatch.setenv(prs.GITHUB_SECRET_ENV, prs.SECRET)
    settings = prs.settings(tmp_path, repo, forge_url="http://127.0.0.1:9")
    with live.serve(settings) as running:
        running.wait_for(lambda: running.passes("policies") >= 1, "the first reconcile")
        yield running


def test_a_simulation_started_by_hand_is_listed_and_served(served: live.Live, repo: PrRepo) -> None:
    r = served.post(
        "/api/v1/simulations",
        json={"source": "policies", "base": "main", "head": "refs/pull/2/head"},
    )
    assert r.status_code == 202 and r.json()["status"] == "queued"
    sim_id = r.json()["simulation"]
    found = prs.finished(served, sim_id)
    assert (found.forge, found.number, found.base, found.head, found.blocked) == (
        "api",
        None,
        repo.base,
        repo.head,
        True,
    )
    listed = served.get("/api/v1/simulations").json()["simulations"]
    assert [(s["id"], s["status"], s["blocked"], s["parts"]) for s in listed] == [
        (sim_id, "succeeded", True, 1)
    ]
    one = served.get(f"/api/v1/simulations/{sim_id}").json()
    assert one["report"]["head"] == repo.head and one["report"]["blocked"] is True
    text = served.get(f"/api/v1/simulations/{sim_id}/markdown")
    assert text.headers["content-type"] == "text/markdown; charset=utf-8"
    assert text.text == found.markdown[0].rstrip("\n") + "\n"
    assert served.get("/api/v1/simulations?source=other").json() == {"simulations": []}
    assert served.get("/api/v1/simulations?pr=2").json() == {"simulations": []}


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        (
            "/api/v1/simulations?pr=two",
            400,
            "query parameter pr: must be a non-negative integer, got 'two'",
        ),
        ("/api/v1/simulations/nope", 404, 'no simulation "nope"'),
        ("/api/v1/simulations/nope/markdown", 404, 'no simulation "nope"'),
    ],
)
def test_bad_reads_say_why(served: live.Live, path: str, status: int, message: str) -> None:
    r = served.get(path)
    assert (r.status_code, r.json()) == (status, {"error": message})


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (
            {"source": "nope", "base": "main", "head": "main"},
            404,
            'no source named "nope" (known: policies)',
        ),
        (
            {"source": "policies", "base": "main"},
            400,
            'body must be {"source": name, "base": rev, "head": rev}, each a non-empty string',
        ),
    ],
)
def test_bad_starts_say_why_and_store_nothing(
    served: live.Live, body: dict[str, str], status: int, message: str
) -> None:
    r = served.post("/api/v1/simulations", json=body)
    assert (r.status_code, r.json()) == (status, {"error": message})
    assert served.daemon.store.list_simulations() == []


def test_a_revision_that_does_not_exist_fails_with_the_reason(served: live.Live) -> None:
    r = served.post(
        "/api/v1/simulations", json={"source": "policies", "base": "main", "head": "no-such-branch"}
    )
    found = prs.finished(served, r.json()["simulation"])
    assert (found.status, found.conclusion, found.report) == (
        SimulationStatus.FAILED,
        "failure",
        None,
    )
    assert found.summary.startswith('could not simulate: revision "no-such-branch" not found')


def test_a_newer_delivery_supersedes_a_queued_one_for_the_same_pull_request(
    served: live.Live, repo: PrRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    release, started = threading.Event(), threading.Event()
    real = simulation_run.execute

    def held(job: simulation_run.Job, *, context: simulation_run.Context) -> object:
        started.set()
        assert release.wait(30)
        return real(job, context=context)

    monkeypatch.setattr(simulation_run, "execute", held)
    ids = []
    for number in (2, 2, 5, 2):  # the first runs (held); the others queue behind it
        r = prs.deliver_github(served, prs.github_payload(repo, head=repo.head, number=number))
        ids += r.json()["simulations"]
        assert started.wait(30)
    release.set()
    statuses = [prs.finished(served, i).status for i in ids]
    assert statuses == [
        SimulationStatus.SUCCEEDED,
        SimulationStatus.CANCELLED,
        SimulationStatus.SUCCEEDED,
        SimulationStatus.SUCCEEDED,
    ]
    cancelled = served.daemon.store.get_simulation(ids[1])
    assert cancelled is not None and cancelled.summary == f"superseded by simulation {ids[3]}"
