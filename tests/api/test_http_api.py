"""The JSON API and health endpoints over HTTP, against a real daemon on a real repository.

The repository holds two Files: `motd` (owned, applied) and `banner` (no owner label, so
the strict `files.owner` binding blocks it).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import gitrepo
from tests.api import live

MOTD, BANNER = "File//motd", "File//banner"


def head(repo: Path) -> str:
    return gitrepo.git(repo, "rev-parse", "HEAD")


def test_healthz(served: live.Live) -> None:
    r = served.get("/healthz")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})


def test_readyz_is_503_until_the_first_fetch(tmp_path: Path, repo: Path) -> None:
    settings = live.settings_for(
        tmp_path / "data", {"name": "demo", "path": str(repo), "interval": "1h"}
    )
    with live.serve(settings, run_daemon=False) as running:
        r = running.get("/readyz")
        name = r.json()["replica"]
        assert (r.status_code, r.json()) == (
            503,
            {
                "ready": False,
                "sources": {"demo": False},
                "store": True,
                "replica": name,
                "replicas": [],
                "owners": {},
            },
        )
        running.start_daemon()
        running.wait_for(lambda: running.get("/readyz").status_code == 200, "readiness")
        body = running.get("/readyz").json()
        assert [(r["name"], r["live"], r["sources"]) for r in body.pop("replicas")] == [
            (name, True, ["demo"])
        ]
        assert body == {
            "ready": True,
            "sources": {"demo": True},
            "store": True,
            "replica": name,
            "owners": {"demo": name},
        }


def test_readyz_stays_503_while_a_source_cannot_be_fetched(tmp_path: Path) -> None:
    (tmp_path / "not-a-repo").mkdir()
    settings = live.settings_for(
        tmp_path / "data", {"name": "broken", "path": str(tmp_path / "not-a-repo")}
    )
    with live.serve(settings) as running:
        running.wait_for(lambda: running.passes("broken") >= 1, "the first attempt")
        r = running.get("/readyz")
        assert (r.status_code, r.json()["sources"]) == (503, {"broken": False})
        source = running.get("/api/v1/sources/broken").json()
        assert sorted((c["type"], c["status"]) for c in source["conditions"]) == [
            ("Ready", "False"),
            ("SourceFetchFailed", "True"),
        ]
        assert source["revision"] is None


def test_readyz_is_503_when_the_store_is_unusable(served: live.Live) -> None:
    assert served.get("/readyz").status_code == 200
    served.daemon.store.close()
    r = served.get("/readyz")
    path = served.daemon.settings.data_dir / "reconciler.db"
    assert (r.status_code, r.json()) == (
        503,
        {
            "ready": False,
            "sources": {"demo": True},
            "store": False,
            "replica": served.daemon.membership.name,
            "reason": f"{path}: the store is closed",
        },
    )


def test_sources(served: live.Live, repo: Path) -> None:
    listed = served.get("/api/v1/sources").json()["sources"]
    assert [s["name"] for s in listed] == ["demo"]
    one = served.get("/api/v1/sources/demo").json()
    assert one == listed[0]
    assert (one["location"], one["ref"], one["revision"]) == (str(repo), "main", head(repo))
    assert (one["suspended"], one["lastTrigger"], one["rejectedRevision"]) == (
        False,
        "startup",
        None,
    )
    assert one["lastResult"] == {"applied": 1, "blocked": 1}
    assert one["settings"] == {
        "interval": {"value": "1h", "origin": "config"},
        "auditInterval": {"value": "10m", "origin": "default"},
        "selfHeal": {"value": True, "origin": "default"},
    }
    assert [(c["type"], c["status"], c["reason"]) for c in one["conditions"]] == [
        ("Ready", "True", "Succeeded")
    ]


def test_unknown_source_is_404_with_the_known_names(served: live.Live) -> None:
    for r in (served.get("/api/v1/sources/nope"), served.post("/api/v1/sources/nope/sync")):
        assert (r.status_code, r.json()) == (
            404,
            {"error": 'no source named "nope" (known: demo)'},
        )
    assert served.triggers == []


def test_sync_triggers_the_source_and_a_reconcile_follows(served: live.Live) -> None:
    before = served.passes("demo")
    r = served.post("/api/v1/sources/demo/sync")
    assert (r.status_code, r.json()) == (202, {"source": "demo", "action": "sync"})
    assert served.triggers == [("demo", "api")]
    served.wait_for(lambda: served.passes("demo") > before, "the requested reconcile")
    assert served.get("/api/v1/sources/demo").json()["lastTrigger"] == "api"


def test_sync_all(served: live.Live) -> None:
    r = served.post("/api/v1/sync")
    assert (r.status_code, r.json()) == (202, {"triggered": ["demo"]})
    assert served.triggers == [("demo", "api")]


def test_suspend_and_resume(served: live.Live) -> None:
    r = served.post("/api/v1/sources/demo/suspend")
    assert (r.status_code, r.json()) == (202, {"source": "demo", "action": "suspend"})
    assert served.get("/api/v1/sources/demo").json()["suspended"] is True
    assert served.triggers == []
    r = served.post("/api/v1/sources/demo/resume")
    assert (r.status_code, r.json()) == (202, {"source": "demo", "action": "resume"})
    assert served.get("/api/v1/sources/demo").json()["suspended"] is False
    assert served.triggers == [("demo", "resume")]


def test_unknown_paths_and_methods_are_json_errors(served: live.Live) -> None:
    r = served.post("/api/v1/sources/demo/explode")
    assert (r.status_code, r.json()) == (
        404,
        {"error": "no such endpoint: POST /api/v1/sources/demo/explode"},
    )
    r = served.get("/api/v1/sources/demo/sync")
    assert (r.status_code, r.json(), r.headers["allow"]) == (
        405,
        {"error": "method GET not allowed"},
        "POST",
    )
    r = served.delete("/api/v1/resources")
    assert (r.status_code, r.json()["error"]) == (405, "method DELETE not allowed")
    assert served.triggers == []


def names(response_body: dict[str, list[dict[str, str]]]) -> list[str]:
    return [item["key"] for item in response_body["resources"]]


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        ("", [BANNER, MOTD]),
        ("?source=demo", [BANNER, MOTD]),
        ("?source=elsewhere", []),
        ("?condition=PolicyDenied", [BANNER]),
        ("?condition=Ready", [MOTD]),
        ("?condition=Ready&status=False", [BANNER]),
        ("?condition=Drifted", []),
    ],
)
def test_resources_filters(served: live.Live, query: str, keys: list[str]) -> None:
    r = served.get(f"/api/v1/resources{query}")
    assert (r.status_code, names(r.json())) == (200, keys)


def test_one_resource_by_a_key_with_slashes(served: live.Live, repo: Path) -> None:
    body = served.get("/api/v1/resources/File//motd").json()
    assert (body["key"], body["kind"], body["namespace"], body["name"], body["source"]) == (
        MOTD,
        "File",
        None,
        "motd",
        "demo",
    )
    assert (body["lastAppliedRevision"], body["lastAttemptedRevision"]) == (head(repo),) * 2
    assert [(c["type"], c["status"]) for c in body["conditions"]] == [("Ready", "True")]
    assert [h["outcome"] for h in body["history"]] == ["applied"]
    blocked = served.get("/api/v1/resources/File//banner").json()
    assert blocked["lastAppliedRevision"] is None
    assert [(c["type"], c["reason"], c["message"]) for c in blocked["conditions"]] == [
        ("PolicyDenied", "DeniedByPolicy", "files.owner: banner has no owner"),
        ("Ready", "DeniedByPolicy", "files.owner: banner has no owner"),
    ]


def test_unknown_resource_is_404(served: live.Live) -> None:
    r = served.get("/api/v1/resources/File//nope")
    assert (r.status_code, r.json()) == (404, {"error": 'no resource "File//nope"'})


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/api/v1/decisions?limit=ten", "query parameter limit: must be an integer, got 'ten'"),
        ("/api/v1/decisions?limit=-1", "query parameter limit: must not be negative, got -1"),
        (
            "/api/v1/events?since=yesterday",
            "query parameter since: must be an integer, got 'yesterday'",
        ),
        ("/api/v1/runs?limit=1.5", "query parameter limit: must be an integer, got '1.5'"),
        (
            "/api/v1/resources?condition=Ready&status=Maybe",
            "query parameter status: must be one of True, False, Unknown, got 'Maybe'",
        ),
    ],
)
def test_bad_query_parameters_are_400(served: live.Live, path: str, message: str) -> None:
    r = served.get(path)
    assert (r.status_code, r.json()) == (400, {"error": message})


def test_decisions(served: live.Live, repo: Path) -> None:
    found = served.get("/api/v1/decisions").json()["decisions"]
    assert sorted((d["resource"]["name"], d["outcome"], d["action"]) for d in found) == [
        ("banner", "deny", "blocked"),
        ("motd", "allow", "allowed"),
    ]
    assert {(d["policy"], d["binding"], d["revision"]) for d in found} == {
        ("files.owner", "owner", head(repo))
    }
    one = served.get("/api/v1/decisions", params={"key": BANNER}).json()["decisions"]
    assert [d["messages"] for d in one] == [["banner has no owner"]]
    assert len(served.get("/api/v1/decisions?limit=1").json()["decisions"]) == 1
    assert served.get("/api/v1/decisions?policy=other.policy").json() == {"decisions": []}


def test_violations(served: live.Live) -> None:
    found = served.get("/api/v1/violations").json()["violations"]
    got = [(v["policy"], v["resource"]["name"], v["outcome"], v["enforcement"]) for v in found]
    assert got == [("files.owner", "banner", "deny", "strict")]
    assert served.get("/api/v1/violations?policy=other.policy").json() == {"violations": []}


def test_events_since(served: live.Live, repo: Path) -> None:
    events = served.get("/api/v1/events").json()["events"]
    assert [e["type"] for e in events] == [
        "RevisionFetched",
        "ResourceBlocked",
        "ResourceApplied",
        "ReconcileFinished",
    ]
    assert events[0]["data"] == {"source": "demo", "revision": head(repo)}
    ids = [e["id"] for e in events]
    assert ids == sorted(ids)
    later = served.get("/api/v1/events", params={"since": ids[1]}).json()["events"]
    assert [e["id"] for e in later] == ids[2:]
    assert served.get("/api/v1/events", params={"since": ids[-1]}).json() == {"events": []}


def test_runs(served: live.Live, repo: Path) -> None:
    runs = served.get("/api/v1/runs").json()["runs"]
    assert [(r["kind"], r["name"], r["trigger"], r["status"]) for r in runs] == [
        ("reconcile", "demo", "startup", "succeeded")
    ]
    assert runs[0]["revision"] == head(repo)
    assert [(s["name"], s["status"]) for s in runs[0]["steps"]] == [
        (BANNER, "failed"),
        (MOTD, "succeeded"),
    ]


def test_resources_list_follows_a_new_revision(served: live.Live, repo: Path) -> None:
    assert names(served.get("/api/v1/resources").json()) == [BANNER, MOTD]
    out = repo.parent / "out"
    gitrepo.commit(repo, {"resources/more.yaml": live.file_doc("extra", path=out / "x", owner="a")})
    before = served.passes("demo")
    served.post("/api/v1/sources/demo/sync")
    served.wait_for(lambda: served.passes("demo") > before, "the reconcile of the new revision")
    assert names(served.get("/api/v1/resources").json()) == [BANNER, "File//extra", MOTD]
