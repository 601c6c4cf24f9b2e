# No privileged containers and no host namespaces. Written for conftest (the binding says
# `input: conftest`): `input` is the resource document itself, rules are `deny_<name>`,
# and `exception` lists the rule names (without `deny_`) that do not apply to an input.
package k8s.privileged

import rego.v1

import data.lib.k8s

deny_privileged contains msg if {
	some container in k8s.containers(input)
	container.securityContext.privileged == true
	msg := sprintf("%s: container %q runs privileged", [k8s.display(input), container.name])
}

deny_host_namespaces contains msg if {
	spec := k8s.pod_spec(input)
	some field in ["hostPID", "hostIPC", "hostNetwork"]
	spec[field] == true
	msg := sprintf("%s: pods share the host's namespaces (%s)", [k8s.display(input), field])
}

# Node agents read the host's processes and network by design: the platform team's
# DaemonSets labelled as node agents may use host namespaces (but never run privileged).
exception contains rules if {
	input.kind == "DaemonSet"
	k8s.namespace(input) == "monitoring"
	k8s.labels(input)["app.kubernetes.io/component"] == "node-agent"
	rules := ["host_namespaces"]
}
