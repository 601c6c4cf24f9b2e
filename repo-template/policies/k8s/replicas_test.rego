package k8s.replicas_test

import rego.v1

import data.k8s.replicas

deployment(n) := {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}, "spec": {"replicas": n}}

bounds := {"min": 2, "max": 10}

test_within_bounds if {
	count(replicas.deny) == 0 with input as {"resource": deployment(3), "parameters": bounds}
}

test_below_minimum if {
	replicas.deny == {"Deployment shop/web runs 1 replica(s); at least 2 are expected"} with input as {"resource": deployment(1), "parameters": bounds}
}

test_above_maximum if {
	replicas.deny == {"Deployment shop/web runs 50 replicas; at most 10 are allowed"} with input as {"resource": deployment(50), "parameters": bounds}
}

test_unset_replicas_default_to_one if {
	count(replicas.deny) == 1 with input as {"resource": {"kind": "Deployment", "metadata": {"name": "web"}, "spec": {}}, "parameters": bounds}
}

test_defaults_without_parameters if {
	count(replicas.deny) == 0 with input as {"resource": deployment(1)}
}

test_kinds_without_replicas_are_ignored if {
	count(replicas.deny) == 0 with input as {"resource": {"kind": "DaemonSet", "metadata": {"name": "agent"}, "spec": {}}, "parameters": bounds}
}
