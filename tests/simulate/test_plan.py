"""The plan a change would apply, against the state the daemon's store recorded (the
documents it last applied) or, without a store, what read-only providers observe."""

from __future__ import annotations

from pathlib import Path

from reconciler.simulate import details, markdown
from reconciler.simulate.records import PlanItem
from reconciler.store import interfaces
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore
from tests.simulate.conftest import NOW, PullRequest


def applied(key: str, revision: str) -> interfaces.ObjectStatus:
    kind, namespace, name = key.split("/")
    return interfaces.ObjectStatus(
        key=key,
        kind=kind,
        namespace=namespace or None,
        name=name,
        source="main",
        observed_generation=1,
        last_attempted_revision=revision,
        last_applied_revision=revision,
        updated_at=NOW,
    )


def test_the_plan_against_the_store_updates_changed_and_prunes_removed_objects(
    pr: PullRequest, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    store = SqliteStore(data / "reconciler.db", retention=RetentionSettings())
    for key in (
        "File//motd",
        "File//web-service-config",
        "File//web-service-env",
        "ExecResource//web-service",
    ):
        store.put_status(applied(key, pr.base))
    store.close()
    settings = (pr.repo / "reconciler.yaml").read_text().replace("prune: false", "prune: true")
    motd = (pr.repo / "resources/files/motd.yaml").read_text().replace("Welcome.", "Hello.")
    pr.change(
        {"reconciler.yaml": settings, "resources/files/motd.yaml": motd},
        delete=["resources/files/app-config.yaml"],
    )
    report = pr.simulate(data_dir=data)
    assert report.plan is not None
    assert report.plan.observed_from == f"store {data / 'reconciler.db'}"
    assert report.plan.items == (
        PlanItem(key="File//motd", action="update", changes=("replace spec.content",)),
        PlanItem(key="File//web-service-env", action="delete"),  # deletes run in reverse
        PlanItem(key="File//web-service-config", action="delete"),
    )
    assert report.plan.counts == {
        "create": 0,
        "update": 1,
        "delete": 2,
        "noop": 1,
        "not-observed": 0,
        "orphan": 0,
    }


def test_without_a_store_removed_objects_are_listed_and_files_not_observed(
    pr: PullRequest,
) -> None:
    pr.change({}, delete=["resources/files/app-config.yaml"])
    report = pr.simulate()
    assert report.plan is not None
    removed = [i for i in report.plan.items if i.action == "orphan"]
    assert removed == [
        PlanItem(
            key="File//web-service-config", action="orphan", note="removed from Git; left in place"
        ),
        PlanItem(
            key="File//web-service-env", action="orphan", note="removed from Git; left in place"
        ),
    ]
    assert report.plan.counts["not-observed"] == 2
    not_observed = {i.key: i.note for i in report.plan.items if i.action == "not-observed"}
    assert not_observed["File//motd"] == (
        "not observed (files the change names are read only with the daemon's data directory)"
    )


def test_objects_left_in_place_are_plan_items_and_every_rendering_counts_the_same(
    pr: PullRequest, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    store = SqliteStore(data / "reconciler.db", retention=RetentionSettings())
    for key in (
        "File//motd",
        "File//web-service-config",
        "File//web-service-env",
        "ExecResource//web-service",
    ):
        store.put_status(applied(key, pr.base))
    store.close()
    pr.change({}, delete=["resources/files/app-config.yaml"])
    report = pr.simulate(data_dir=data)
    assert report.plan is not None
    assert report.plan.items == (
        PlanItem(
            key="File//web-service-config",
            action="orphan",
            note="no longer in Git; left in place (prune is off)",
        ),
        PlanItem(
            key="File//web-service-env",
            action="orphan",
            note="no longer in Git; left in place (prune is off)",
        ),
    )
    assert report.plan.counts == {
        "create": 0,
        "update": 0,
        "delete": 0,
        "noop": 2,
        "not-observed": 0,
        "orphan": 2,
    }
    assert ("Plan", "2 unchanged, 2 left in place") in markdown.summary_rows(report)
    titles = [s.title for s in details.sections(report)]
    assert "Plan: 2 unchanged, 2 left in place" in titles


def test_without_a_data_directory_files_the_change_names_are_not_read(
    pr: PullRequest, tmp_path: Path
) -> None:
    host = tmp_path / "host-secret"
    host.write_text("hunter2\n")
    probe = (
        "apiVersion: reconciler.dev/v1\nkind: File\nmetadata: {name: probe}\n"
        f'spec: {{path: {host}, content: "hunter2\\n"}}\n'
    )
    pr.change({"resources/files/probe.yaml": probe})
    report = pr.simulate()
    assert report.plan is not None
    items = {i.key: (i.action, i.note) for i in report.plan.items}
    assert items["File//probe"] == (
        "not-observed",
        "not observed (files the change names are read only with the daemon's data directory)",
    )
    assert report.plan.counts["noop"] == 0
