"""The observed state a simulated change is planned against, read without changing anything.

With the daemon's store, an object's observed state is the document it last applied (from
`ObjectStatus.last_applied_revision`, read from Git) and its inventory is the store's.
Without it, providers are asked to `observe` only, never to apply or delete, and only
those that read nothing the change names: ExecResource programs come from the revision
under review and are not started, HttpResource URLs it names are not requested, and File
paths it names are not read (any host file, a FIFO or /dev/zero could be named; whether
its content equals the desired one would show in the plan). In that mode observed values
never reach the head's policies or the report: policies get the planned action and the
changed paths with their desired values, the report the paths alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.errors import ProblemsError, ReconcilerError
from reconciler.plan import ignore, planner
from reconciler.providers import base, registry
from reconciler.providers import exec as exec_provider
from reconciler.providers import file as file_provider
from reconciler.providers import http as http_provider
from reconciler.simulate import wire
from reconciler.simulate.records import PlanItem, PlanSection
from reconciler.source import git
from reconciler.specs import loader
from reconciler.specs.snapshot import Document
from reconciler.store.interfaces import Store

UNTRUSTED = {
    exec_provider.NAME: "not observed (untrusted provider program)",
    http_provider.NAME: "not observed (URLs from the change are not requested)",
    file_provider.NAME: (
        "not observed (files the change names are read only with the daemon's data directory)"
    ),
}


class Observer:
    """Answers the sandbox's request for inputs and keeps the plan it made for the report."""

    def __init__(
        self,
        *,
        source: git.GitSource,
        store: Store | None,
        store_label: str = "",
        providers: registry.Registry | None = None,
    ) -> None:
        self._source, self._store, self._label = source, store, store_label
        self._providers = providers
        self._cache = loader.SpecCache()
        self._applied: dict[str, dict[str, Document]] = {}
        self.plan: PlanSection | None = None

    def inputs(self, facts: Mapping[str, Any]) -> dict[str, Any]:
        """{key: {"observed", "change"}} for the head's policies; builds `self.plan`."""
        managed = [(m["provider"], wire.doc_from_json(m["doc"])) for m in facts.get("managed", [])]
        notes: dict[str, str] = {}
        if self._store is not None:
            observed, inventory = self._from_store(managed, notes)
        else:
            observed = self._from_providers(managed, notes)
            inventory = set()
        usable = {doc.key: doc for _, doc in managed if doc.key not in notes}
        plan = planner.plan(
            desired={k: d.body for k, d in usable.items()},
            observed={k: observed.get(k) for k in {*usable, *inventory}},
            inventory=inventory | set(usable),
            prune=bool(facts.get("prune")),
            rules=ignore.rules_from_settings(facts.get("ignoreDifferences") or []),
        )
        removed = sorted(set(facts.get("baseManaged", [])) - {d.key for _, d in managed})
        self.plan = _section(
            plan,
            notes,
            removed if self._store is None else [],
            label=self._label or "providers (read-only)",
            prune=bool(facts.get("prune")),
        )
        trusted = self._store is not None
        return {
            c.key: {
                "observed": c.observed if trusted else None,
                "change": _change_json(c, with_old=trusted),
            }
            for c in plan.changes
        }

    def _from_store(
        self, managed: list[tuple[str, Document]], notes: dict[str, str]
    ) -> tuple[dict[str, dict[str, Any] | None], set[str]]:
        assert self._store is not None
        statuses = {s.key: s for s in self._store.list_status()}
        observed: dict[str, dict[str, Any] | None] = {}
        for key, status in statuses.items():
            sha = status.last_applied_revision
            doc = self._applied_doc(sha, key) if sha else None
            observed[key] = doc.body if doc is not None else None
        inventory = {
            k
            for k, s in statuses.items()
            if s.last_applied_revision and observed.get(k) is not None
        }
        return observed, inventory

    def _applied_doc(self, sha: str, key: str) -> Document | None:
        if sha not in self._applied:
            try:
                snap = loader.load(self._source.tree(self._source.resolve(sha)), cache=self._cache)
                self._applied[sha] = {d.key: d for d in snap.resources}
            except ReconcilerError:
                self._applied[sha] = {}
        return self._applied[sha].get(key)

    def _from_providers(
        self, managed: list[tuple[str, Document]], notes: dict[str, str]
    ) -> dict[str, dict[str, Any] | None]:
        providers = self._providers or registry.Registry.load(base.ProviderSettings())
        observed: dict[str, dict[str, Any] | None] = {}
        for name, doc in managed:
            if name in UNTRUSTED:
                notes[doc.key] = UNTRUSTED[name]
                continue
            try:
                provider = providers.resolve(doc, mapping={doc.kind: name})
                found = provider.observe(doc)
            except (ProblemsError, base.ProviderError) as exc:
                notes[doc.key] = f"not observed: {exc}"
                continue
            observed[doc.key] = None if found is None else provider.normalise(doc.body, found)
        return observed


def _change_json(change: planner.Change, *, with_old: bool) -> dict[str, Any]:
    shown = change.as_json()
    if not with_old:
        shown["diff"] = [{**item, "old": None} for item in shown["diff"]]
    return shown


def _section(
    plan: planner.Plan, notes: Mapping[str, str], removed: list[str], *, label: str, prune: bool
) -> PlanSection:
    """The plan as report items; `counts` counts those items by action, and the objects
    left unchanged as `noop`, so every rendering of the plan adds up the same way."""
    items = [
        PlanItem(
            key=c.key,
            action=c.action.value,
            changes=tuple(f"{i.op.value} {i.dotted or '(root)'}" for i in c.diff),
        )
        for c in plan.pending
    ]
    items += [PlanItem(key=k, action="not-observed", note=n) for k, n in sorted(notes.items())]
    items += [PlanItem(key=k, action="orphan", note=_LEFT) for k in plan.orphans]
    for key in removed:
        action = "delete" if prune else "orphan"
        note = "removed from Git; prune is on" if prune else "removed from Git; left in place"
        items.append(PlanItem(key=key, action=action, note=note))
    counts = {a.value: 0 for a in planner.Action} | {"not-observed": 0, "orphan": 0}
    for item in items:
        counts[item.action] += 1
    counts[planner.Action.NOOP.value] = plan.counts().get(planner.Action.NOOP, 0)
    return PlanSection(observed_from=label, counts=counts, items=tuple(items), orphans=plan.orphans)


_LEFT = "no longer in Git; left in place (prune is off)"
