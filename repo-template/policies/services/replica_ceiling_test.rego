package services.replica_ceiling_test

import rego.v1

import data.services.replica_ceiling

service := {"metadata": {"name": "web-service"}}

test_scaled_beyond_the_ceiling_is_denied if {
	replica_ceiling.deny == {"web-service runs 9 replicas by hand; the ceiling is 4"} with input as {"resource": service, "observed": {"replicas": 9}, "parameters": {"ceiling": 4}}
}

test_within_the_ceiling_is_allowed if {
	count(replica_ceiling.deny) == 0 with input as {"resource": service, "observed": {"replicas": 2}, "parameters": {"ceiling": 4}}
}

test_nothing_observed_yet_is_allowed if {
	count(replica_ceiling.deny) == 0 with input as {"resource": service, "observed": null, "parameters": {}}
}
