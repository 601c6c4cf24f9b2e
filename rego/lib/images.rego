# Container image reference parsing: `[registry[:port]/]path[:tag][@digest]`.
# Policies import this as `data.lib.images`.
package lib.images

import rego.v1

_without_digest(image) := split(image, "@")[0]

# The last path segment, where a tag (but not a registry port) can appear.
_last_segment(image) := segment if {
	parts := split(_without_digest(image), "/")
	segment := parts[count(parts) - 1]
}

# "sha256:..." for `app@sha256:...`; undefined when the image is not pinned.
digest(image) := split(image, "@")[1] if contains(image, "@")

has_digest(image) if digest(image)

# "1.2" for `registry:5000/app:1.2`; undefined when no tag is written.
tag(image) := t if {
	segment := _last_segment(image)
	contains(segment, ":")
	t := split(segment, ":")[1]
}

is_tagged(image) if tag(image)

# The image without tag and digest: `registry:5000/app:1.2@sha256:x` -> `registry:5000/app`.
repository(image) := trim_suffix(_without_digest(image), concat("", [":", tag(image)])) if {
	is_tagged(image)
}

repository(image) := _without_digest(image) if not is_tagged(image)

# The registry host, "docker.io" for short names like `nginx` or `library/nginx`.
registry(image) := host if {
	parts := split(repository(image), "/")
	count(parts) > 1
	host := parts[0]
	_is_host(host)
}

registry(image) := "docker.io" if {
	parts := split(repository(image), "/")
	not _first_is_host(parts)
}

_first_is_host(parts) if {
	count(parts) > 1
	_is_host(parts[0])
}

_is_host(s) if contains(s, ".")

_is_host(s) if contains(s, ":")

_is_host(s) if s == "localhost"

# True for `app:latest` and for untagged `app` (which pulls latest); an image pinned by
# digest is never "latest", whatever its tag says.
is_latest(image) if {
	not has_digest(image)
	tag(image) == "latest"
}

is_latest(image) if {
	not has_digest(image)
	not is_tagged(image)
}
