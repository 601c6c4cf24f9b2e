package k8s.required_labels_test

import rego.v1

import data.k8s.required_labels

teams := [{"name": "payments"}, {"name": "platform"}]

deployment(labels) := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "api", "namespace": "payments", "labels": labels},
	"spec": {},
}

test_labelled_deployment_is_allowed if {
	count(required_labels.deny) == 0 with input as {"resource": deployment({"owner": "alice", "team": "payments"})}
		with data.teams as teams
}

test_missing_owner_is_denied if {
	required_labels.deny == {`Deployment payments/api is missing the required label "owner"`}
		with input as {"resource": deployment({"team": "payments"})}
		with data.teams as teams
}

test_empty_label_counts_as_missing if {
	some msg in required_labels.deny with input as {"resource": deployment({"owner": "", "team": "payments"})}
		with data.teams as teams
	contains(msg, `"owner"`)
}

test_labels_come_from_parameters if {
	required_labels.deny == {`Deployment payments/api is missing the required label "cost-center"`}
		with input as {
			"resource": deployment({"owner": "alice", "team": "payments"}),
			"parameters": {"labels": ["cost-center"]},
		}
		with data.teams as teams
}

test_unknown_team_is_denied if {
	required_labels.deny == {`Deployment payments/api has team "growth", which is not in data.teams (known teams: payments, platform)`} with input as {"resource": deployment({"owner": "alice", "team": "growth"})}
		with data.teams as teams
}
