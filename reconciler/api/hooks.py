"""Which sources a verified webhook delivery concerns, and what it triggers.

A push or tag to the ref a source follows triggers that source; a branch deletion only
ever triggers nothing (the daemon keeps serving its last-known-good revision of a branch
that is gone). Deliveries are matched to remote sources by repository URL (compared
without credentials, `.git` suffix, trailing slash or case); a generic delivery naming no
repository triggers every source, which is how local repositories are poked.
"""

from __future__ import annotations

import logging

from reconciler.api.deps import Deps
from reconciler.errors import ReconcilerError
from reconciler.reconcile.deliveries import Delivery, Kind, canonical_url

log = logging.getLogger(__name__)


def _follows(ref: str, delivery: Delivery) -> bool:
    wanted = ref if ref.startswith("refs/") else None
    candidates = {wanted} if wanted else {f"refs/heads/{ref}", f"refs/tags/{ref}"}
    return delivery.ref is None or delivery.ref in candidates


def route_delivery(deps: Deps, delivery: Delivery) -> list[str]:
    """Trigger the sources this delivery concerns; returns their names. A delivery naming
    a workflow starts it instead (`workflow:<name>`), if it has a webhook trigger."""
    if delivery.workflow is not None:
        return _start_workflow(deps, delivery)
    if delivery.kind not in (Kind.PUSH, Kind.TAG):
        return []
    urls = {canonical_url(u) for u in delivery.repo_urls}
    triggered = []
    for name, runner in deps.runners.items():
        config = runner.config
        if urls and (config.url is None or canonical_url(config.url) not in urls):
            continue
        if _follows(config.ref, delivery):
            runner.trigger(f"webhook:{delivery.forge.value}")
            triggered.append(name)
    return triggered


def _start_workflow(deps: Deps, delivery: Delivery) -> list[str]:
    name = str(delivery.workflow)
    try:
        deps.workflows.submit(
            name, trigger="webhook", variables=delivery.variables, needs="webhook"
        )
    except ReconcilerError as exc:
        log.warning("webhook delivery starts nothing: %s", exc)
        return []
    return [f"workflow:{name}"]
