# Helpers for Kubernetes objects: the pod spec of any workload, every container in it,
# labels and names with safe defaults. Policies import this as `data.lib.k8s`.
package lib.k8s

import rego.v1

# Kinds whose pods are described by `spec.template`.
template_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"}

# Kinds that run pods, i.e. whose containers policies usually check.
workload_kinds := template_kinds | {"Pod", "CronJob"}

# The pod spec of a Pod, of a workload's pod template, or of a CronJob's job template.
# Undefined for objects that do not run pods (Service, ConfigMap, ...).
pod_spec(obj) := obj.spec if obj.kind == "Pod"

pod_spec(obj) := obj.spec.template.spec if obj.kind in template_kinds

pod_spec(obj) := obj.spec.jobTemplate.spec.template.spec if obj.kind == "CronJob"

# The labels of the pods a workload creates (the object's own labels for a Pod).
pod_labels(obj) := object.get(obj, ["metadata", "labels"], {}) if obj.kind == "Pod"

pod_labels(obj) := object.get(obj, ["spec", "template", "metadata", "labels"], {}) if {
	obj.kind in template_kinds
}

pod_labels(obj) := labels if {
	obj.kind == "CronJob"
	labels := object.get(obj, ["spec", "jobTemplate", "spec", "template", "metadata", "labels"], {})
}

is_workload(obj) if obj.kind in workload_kinds

# Every container of the pod spec, init and ephemeral containers included; [] when the
# object runs no pods. Each item is the container object as written.
containers(obj) := [c |
	spec := pod_spec(obj)
	some field in ["initContainers", "containers", "ephemeralContainers"]
	some c in object.get(spec, field, [])
]

# The main containers only (what most resource and probe rules mean).
app_containers(obj) := [c |
	spec := pod_spec(obj)
	some c in object.get(spec, "containers", [])
]

# Every image the object would run.
images(obj) := {c.image | some c in containers(obj)}

name(obj) := object.get(obj, ["metadata", "name"], "")

namespace(obj) := object.get(obj, ["metadata", "namespace"], "")

labels(obj) := object.get(obj, ["metadata", "labels"], {})

annotations(obj) := object.get(obj, ["metadata", "annotations"], {})

has_label(obj, key) if labels(obj)[key] != ""

# "Deployment payments/api" or "ClusterRole admin": how messages name an object.
display(obj) := sprintf("%s %s/%s", [obj.kind, namespace(obj), name(obj)]) if namespace(obj) != ""

display(obj) := sprintf("%s %s", [obj.kind, name(obj)]) if namespace(obj) == ""

# Desired replica count; Kubernetes defaults it to 1 when unset.
replicas(obj) := object.get(obj, ["spec", "replicas"], 1) if {
	obj.kind in {"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"}
}
