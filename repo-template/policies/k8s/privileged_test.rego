package k8s.privileged_test

import rego.v1

import data.k8s.privileged

pod(security, host) := object.union(
	{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug", "namespace": "ops"}},
	{"spec": object.union({"containers": [{"name": "shell", "image": "busybox:1.36", "securityContext": security}]}, host)},
)

agent := {
	"apiVersion": "apps/v1",
	"kind": "DaemonSet",
	"metadata": {"name": "node-exporter", "namespace": "monitoring", "labels": {"app.kubernetes.io/component": "node-agent"}},
	"spec": {"template": {"spec": {"hostPID": true, "containers": [{"name": "exporter", "image": "exporter:1"}]}}},
}

test_unprivileged_pod_is_allowed if {
	count(privileged.deny_privileged) == 0 with input as pod({"runAsNonRoot": true}, {})
	count(privileged.deny_host_namespaces) == 0 with input as pod({}, {})
}

test_privileged_container_is_denied if {
	privileged.deny_privileged == {`Pod ops/debug: container "shell" runs privileged`} with input as pod({"privileged": true}, {})
}

test_host_network_is_denied if {
	privileged.deny_host_namespaces == {"Pod ops/debug: pods share the host's namespaces (hostNetwork)"} with input as pod({}, {"hostNetwork": true})
}

test_node_agent_is_excepted_from_host_namespaces if {
	privileged.exception == {["host_namespaces"]} with input as agent
	count(privileged.deny_host_namespaces) == 1 with input as agent
}

test_other_daemonsets_are_not_excepted if {
	count(privileged.exception) == 0 with input as json.patch(agent, [{"op": "replace", "path": "/metadata/namespace", "value": "default"}])
}
