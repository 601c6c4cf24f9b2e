package k8s.container_limits_test

import rego.v1

import data.k8s.container_limits

deployment(resources) := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "api", "namespace": "payments"},
	"spec": {"template": {"spec": {"containers": [{"name": "api", "image": "api:1", "resources": resources}]}}},
}

parameters := {"maxCpu": "2", "maxMemory": "4Gi"}

test_limits_within_bounds_are_allowed if {
	count(container_limits.deny) == 0 with input as {
		"resource": deployment({"limits": {"cpu": "500m", "memory": "512Mi"}}),
		"parameters": parameters,
	}
}

test_missing_limits_are_denied if {
	container_limits.deny == {
		`Deployment payments/api: container "api" has no cpu limit`,
		`Deployment payments/api: container "api" has no memory limit`,
	} with input as {"resource": deployment({"requests": {"cpu": "100m"}}), "parameters": parameters}
}

test_limits_above_maximum_are_denied if {
	container_limits.deny == {
		`Deployment payments/api: container "api" CPU limit 4 is above the maximum 2`,
		`Deployment payments/api: container "api" memory limit 8Gi is above the maximum 4Gi`,
	} with input as {"resource": deployment({"limits": {"cpu": 4, "memory": "8Gi"}}), "parameters": parameters}
}

test_no_maximum_without_parameters if {
	count(container_limits.deny) == 0 with input as {"resource": deployment({"limits": {"cpu": "64", "memory": "1Ti"}})}
}

test_invalid_quantity_is_denied if {
	container_limits.deny == {`Deployment payments/api: container "api" memory limit 1GB is not a Kubernetes quantity`} with input as {"resource": deployment({"limits": {"cpu": "1", "memory": "1GB"}})}
}
