package lib.images_test

import rego.v1

import data.lib.images

test_tag if {
	images.tag("nginx:1.25") == "1.25"
	images.tag("registry.example.com:5000/team/app:v2") == "v2"
	images.tag("app:1.0@sha256:abc") == "1.0"
	not images.tag("registry.example.com:5000/team/app")
	not images.tag("nginx")
}

test_digest if {
	images.digest("app@sha256:abc") == "sha256:abc"
	images.has_digest("app:1.0@sha256:abc")
	not images.has_digest("app:1.0")
}

test_repository if {
	images.repository("registry.example.com:5000/team/app:v2@sha256:abc") == "registry.example.com:5000/team/app"
	images.repository("nginx") == "nginx"
	images.repository("nginx:1.25") == "nginx"
}

test_registry if {
	images.registry("registry.example.com/team/app:1") == "registry.example.com"
	images.registry("localhost:5000/app") == "localhost:5000"
	images.registry("localhost/app") == "localhost"
	images.registry("library/nginx:1.25") == "docker.io"
	images.registry("nginx") == "docker.io"
}

test_latest if {
	images.is_latest("nginx:latest")
	images.is_latest("nginx")
	images.is_latest("registry.example.com:5000/team/app")
}

test_not_latest if {
	not images.is_latest("nginx:1.25")
	not images.is_latest("nginx@sha256:abc")
	not images.is_latest("nginx:latest@sha256:abc")
	not images.is_latest("registry.example.com:5000/app:v1")
}
