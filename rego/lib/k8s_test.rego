package lib.k8s_test

import rego.v1

import data.lib.k8s

deployment := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "api", "namespace": "payments", "labels": {"team": "payments"}},
	"spec": {
		"replicas": 3,
		"template": {
			"metadata": {"labels": {"app": "api"}},
			"spec": {
				"initContainers": [{"name": "migrate", "image": "registry.example.com/api-migrate:1.0"}],
				"containers": [{"name": "api", "image": "registry.example.com/api:1.0"}],
			},
		},
	},
}

cronjob := {
	"apiVersion": "batch/v1",
	"kind": "CronJob",
	"metadata": {"name": "cleanup"},
	"spec": {"jobTemplate": {"spec": {"template": {
		"metadata": {"labels": {"app": "cleanup"}},
		"spec": {"containers": [{"name": "cleanup", "image": "busybox:1.36"}]},
	}}}},
}

pod := {"kind": "Pod", "metadata": {"name": "debug", "labels": {"run": "debug"}}, "spec": {
	"containers": [{"name": "shell", "image": "busybox"}],
	"ephemeralContainers": [{"name": "dbg", "image": "busybox:1.36"}],
}}

test_deployment_containers_include_init_containers if {
	names := [c.name | some c in k8s.containers(deployment)]
	names == ["migrate", "api"]
}

test_app_containers_exclude_init_containers if {
	[c.name | some c in k8s.app_containers(deployment)] == ["api"]
}

test_cronjob_containers_come_from_job_template if {
	[c.name | some c in k8s.containers(cronjob)] == ["cleanup"]
	k8s.pod_labels(cronjob) == {"app": "cleanup"}
}

test_pod_containers_include_ephemeral if {
	[c.name | some c in k8s.containers(pod)] == ["shell", "dbg"]
	k8s.pod_spec(pod) == pod.spec
}

test_service_has_no_containers if {
	k8s.containers({"kind": "Service", "metadata": {"name": "web"}, "spec": {}}) == []
	not k8s.is_workload({"kind": "Service"})
}

test_images if {
	k8s.images(deployment) == {"registry.example.com/api-migrate:1.0", "registry.example.com/api:1.0"}
}

test_labels_and_names if {
	k8s.labels(deployment) == {"team": "payments"}
	k8s.labels(cronjob) == {}
	k8s.pod_labels(deployment) == {"app": "api"}
	k8s.has_label(deployment, "team")
	not k8s.has_label(deployment, "owner")
	k8s.name(deployment) == "api"
	k8s.namespace(cronjob) == ""
}

test_display if {
	k8s.display(deployment) == "Deployment payments/api"
	k8s.display(cronjob) == "CronJob cleanup"
}

test_replicas_default_to_one if {
	k8s.replicas(deployment) == 3
	k8s.replicas({"kind": "Deployment", "spec": {}}) == 1
	not k8s.replicas(cronjob)
}
