# Images must be pinned to a version (no `:latest`, no untagged images) and come from a
# registry listed in data/registries.yaml. Reads `input.resource` (input: reconciler).
package k8s.images

import rego.v1

import data.lib.images
import data.lib.k8s

deny contains msg if {
	some container in k8s.containers(input.resource)
	images.is_latest(container.image)
	msg := sprintf("%s: container %q uses %q; pin a version tag or a digest", [
		k8s.display(input.resource), container.name, container.image,
	])
}

deny contains msg if {
	some container in k8s.containers(input.resource)
	registry := images.registry(container.image)
	not registry in data.registries.allowed
	msg := sprintf("%s: container %q pulls from %s, which is not an allowed registry (%s)", [
		k8s.display(input.resource), container.name, registry, concat(", ", data.registries.allowed),
	])
}
