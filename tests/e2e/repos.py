"""Small repositories in the example's style (`repo-template/`), for the end-to-end tests.

Each function returns `{path: text}` to commit with `tests.gitrepo`. Managed files point
into the test's own temporary folder, never into the example's /tmp/reconciler-example.
"""

from __future__ import annotations

import json
from pathlib import Path

SETTINGS = """\
apiVersion: reconciler.dev/v1
kind: Settings
metadata:
  name: e2e
spec:
  providers:
    File: file
    ExecResource: exec
"""


def settings() -> dict[str, str]:
    return {"reconciler.yaml": SETTINGS}


def file_resource(
    name: str, *, path: Path, content: str, labels: dict[str, str] | None = None
) -> str:
    return f"""\
apiVersion: reconciler.dev/v1
kind: File
metadata:
  name: {name}
  labels: {json.dumps(labels or {"owner": "platform"})}
spec:
  path: {path}
  mode: "0644"
  content: {json.dumps(content)}
"""


def exec_resource(name: str, *, program: str, desired: dict[str, object], timeout: str = "") -> str:
    limit = f"\n  timeout: {timeout}" if timeout else ""
    return f"""\
apiVersion: reconciler.dev/v1
kind: ExecResource
metadata:
  name: {name}
spec:
  provider: {program}{limit}
  desired: {json.dumps(desired)}
"""


OWNER_POLICY = """\
# Managed files must say who owns them.
package e2e.owner

import rego.v1

deny contains msg if {
	not input.resource.metadata.labels.owner
	msg := sprintf("%s %s has no owner label", [input.resource.kind, input.resource.metadata.name])
}
"""

OWNER_BINDING = """\
apiVersion: reconciler.dev/v1
kind: PolicyBinding
metadata:
  name: files-need-owner
spec:
  policy: e2e.owner
  input: reconciler
  scope:
    kinds: [File]
  enforcement: strict
"""


def owner_policy() -> dict[str, str]:
    return {"policies/owner.rego": OWNER_POLICY, "policies/bindings.yaml": OWNER_BINDING}


AUDIT_POLICY = """\
# Records one decision for every service change (monitor: never blocks).
package e2e.audit

import rego.v1

warn contains msg if {
	msg := sprintf("%s changes", [input.resource.metadata.name])
}
"""

AUDIT_BINDING = """\
apiVersion: reconciler.dev/v1
kind: PolicyBinding
metadata:
  name: audit-services
spec:
  policy: e2e.audit
  input: reconciler
  scope:
    kinds: [ExecResource]
  enforcement: monitor
"""


def audit_policy() -> dict[str, str]:
    return {"policies/audit.rego": AUDIT_POLICY, "policies/bindings.yaml": AUDIT_BINDING}


# An exec provider keeping each service's state as a JSON file under STATE (an absolute
# path written in at commit time). Applying sleeps while the file `slow` exists in STATE
# and first leaves `applying-<name>` there, so a test can kill the daemon mid-apply.
# `hang: true` in `desired` makes apply never answer.
SERVICE_PROVIDER = """\
import json
import pathlib
import sys
import time

STATE = pathlib.Path(__STATE__)
request = json.loads(sys.stdin.read())
resource = request["resource"]
name = resource["metadata"]["name"]
desired = resource["spec"]["desired"]
target = STATE / "services" / (name + ".json")
if request["action"] == "observe":
    observed = json.loads(target.read_text()) if target.exists() else None
    print(json.dumps({"observed": observed}))
elif request["action"] == "apply":
    if desired.get("hang"):
        time.sleep(600)
    (STATE / ("applying-" + name)).touch()
    if (STATE / "slow").exists():
        time.sleep(0.5)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".tmp")
    partial.write_text(json.dumps(desired))
    partial.replace(target)
    print(json.dumps({"ok": True}))
else:
    target.unlink(missing_ok=True)
    print(json.dumps({"ok": True}))
"""


def service_provider(state: Path) -> dict[str, str]:
    script = SERVICE_PROVIDER.replace("__STATE__", json.dumps(str(state)))
    return {"providers/service.py": script}
