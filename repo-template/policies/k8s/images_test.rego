package k8s.images_test

import rego.v1

import data.k8s.images

registries := {"allowed": ["registry.example.com", "docker.io"]}

pod(image) := {
	"apiVersion": "v1",
	"kind": "Pod",
	"metadata": {"name": "web", "namespace": "shop"},
	"spec": {"containers": [{"name": "web", "image": image}]},
}

cronjob(image) := {
	"apiVersion": "batch/v1",
	"kind": "CronJob",
	"metadata": {"name": "report", "namespace": "shop"},
	"spec": {"jobTemplate": {"spec": {"template": {"spec": {"initContainers": [{"name": "fetch", "image": image}]}}}}},
}

test_pinned_image_is_allowed if {
	count(images.deny) == 0 with input as {"resource": pod("registry.example.com/shop/web:1.4.2")}
		with data.registries as registries
}

test_latest_tag_is_denied if {
	images.deny == {`Pod shop/web: container "web" uses "docker.io/library/nginx:latest"; pin a version tag or a digest`} with input as {"resource": pod("docker.io/library/nginx:latest")}
		with data.registries as registries
}

test_untagged_init_container_in_cronjob_is_denied if {
	count(images.deny) == 1 with input as {"resource": cronjob("registry.example.com/tools/fetch")}
		with data.registries as registries
}

test_digest_is_allowed if {
	count(images.deny) == 0 with input as {"resource": pod("registry.example.com/shop/web@sha256:0123abcd")}
		with data.registries as registries
}

test_unknown_registry_is_denied if {
	images.deny == {`Pod shop/web: container "web" pulls from ghcr.io, which is not an allowed registry (registry.example.com, docker.io)`} with input as {"resource": pod("ghcr.io/someone/web:1.0")}
		with data.registries as registries
}
