"""Policy as code: Rego modules, bindings and Gatekeeper constraints evaluated into decisions."""
