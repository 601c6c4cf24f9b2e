# Every workload and Service names who owns it: the labels listed in the binding's
# `parameters.labels` (default: owner and team) must be set, and `team` must be one of
# the teams in data/teams.yaml.
package k8s.required_labels

import rego.v1

import data.lib.k8s

default_labels := ["owner", "team"]

required := object.get(input, ["parameters", "labels"], default_labels)

deny contains msg if {
	some key in required
	not k8s.has_label(input.resource, key)
	msg := sprintf("%s is missing the required label %q", [k8s.display(input.resource), key])
}

deny contains msg if {
	team := k8s.labels(input.resource).team
	team != ""
	not known_team(team)
	msg := sprintf("%s has team %q, which is not in data.teams (known teams: %s)", [
		k8s.display(input.resource), team, concat(", ", sort([t.name | some t in data.teams])),
	])
}

known_team(name) if {
	some team in data.teams
	team.name == name
}
