"""reconciler: a policy-as-code GitOps reconciler.

Git holds the desired state (resources, Rego policies, workflows, runbooks); the daemon
diffs it against observed state, gates every change by policy and applies what is allowed.
"""

from __future__ import annotations

__version__ = "0.1.0"
