# Replica counts stay within `parameters.min` and `parameters.max` (defaults 1 and 20):
# one replica means no redundancy, a very large count is usually a typo.
package k8s.replicas

import rego.v1

import data.lib.k8s

min_replicas := object.get(input, ["parameters", "min"], 1)

max_replicas := object.get(input, ["parameters", "max"], 20)

deny contains msg if {
	replicas := k8s.replicas(input.resource)
	replicas < min_replicas
	msg := sprintf("%s runs %d replica(s); at least %d are expected", [k8s.display(input.resource), replicas, min_replicas])
}

deny contains msg if {
	replicas := k8s.replicas(input.resource)
	replicas > max_replicas
	msg := sprintf("%s runs %d replicas; at most %d are allowed", [k8s.display(input.resource), replicas, max_replicas])
}
