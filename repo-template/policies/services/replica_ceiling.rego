# The live web service must not run more replicas than its ceiling. On-call may scale it by
# hand during an incident (reconciler.yaml ignores that drift), so this looks at the
# OBSERVED state: the daemon's audit finds it, and the binding's remediation scales back.
package services.replica_ceiling

import rego.v1

default ceiling := 4

ceiling := input.parameters.ceiling

deny contains msg if {
	input.observed.replicas > ceiling
	msg := sprintf("%s runs %d replicas by hand; the ceiling is %d", [input.resource.metadata.name, input.observed.replicas, ceiling])
}
