# Tests for the Rego inside k8sallowedrepos-template.yaml (`reconciler test` loads the
# Rego of every ConstraintTemplate, under the package the template declares).
package k8sallowedrepos_test

import rego.v1

import data.k8sallowedrepos

parameters := {"repos": ["registry.example.com/", "docker.io/library/"]}

review(spec) := {"review": {"object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": spec}}, "parameters": parameters}

test_allowed_repos_pass if {
	count(k8sallowedrepos.violation) == 0 with input as review({
		"initContainers": [{"name": "init", "image": "docker.io/library/busybox:1.36"}],
		"containers": [{"name": "web", "image": "registry.example.com/shop/web:1.0"}],
	})
}

test_other_repo_is_a_violation if {
	k8sallowedrepos.violation == {{"msg": `container <web> has an invalid image repo <ghcr.io/x/web:1.0>, allowed repos are ["registry.example.com/", "docker.io/library/"]`}} with input as review({"containers": [{"name": "web", "image": "ghcr.io/x/web:1.0"}]})
}

test_init_and_ephemeral_containers_are_checked if {
	count(k8sallowedrepos.violation) == 2 with input as review({
		"containers": [{"name": "web", "image": "registry.example.com/shop/web:1.0"}],
		"initContainers": [{"name": "init", "image": "busybox"}],
		"ephemeralContainers": [{"name": "debug", "image": "quay.io/debug/tools:1"}],
	})
}
