# Every container sets CPU and memory limits, below the ceilings the binding passes as
# `parameters.maxCpu` / `parameters.maxMemory` (Kubernetes quantities, e.g. "4", "8Gi").
package k8s.container_limits

import rego.v1

import data.lib.k8s
import data.lib.units

deny contains msg if {
	some container in k8s.containers(input.resource)
	some resource in ["cpu", "memory"]
	not container.resources.limits[resource]
	msg := sprintf("%s: container %q has no %s limit", [k8s.display(input.resource), container.name, resource])
}

deny contains msg if {
	some container in k8s.containers(input.resource)
	limit := container.resources.limits.cpu
	max := input.parameters.maxCpu
	units.cpu(limit) > units.cpu(max)
	msg := sprintf("%s: container %q CPU limit %v is above the maximum %v", [
		k8s.display(input.resource), container.name, limit, max,
	])
}

deny contains msg if {
	some container in k8s.containers(input.resource)
	limit := container.resources.limits.memory
	max := input.parameters.maxMemory
	units.memory(limit) > units.memory(max)
	msg := sprintf("%s: container %q memory limit %v is above the maximum %v", [
		k8s.display(input.resource), container.name, limit, max,
	])
}

deny contains msg if {
	some container in k8s.containers(input.resource)
	some resource, quantity in object.get(container, ["resources", "limits"], {})
	resource in {"cpu", "memory"}
	not units.is_valid(quantity)
	msg := sprintf("%s: container %q %s limit %v is not a Kubernetes quantity", [
		k8s.display(input.resource), container.name, resource, quantity,
	])
}
