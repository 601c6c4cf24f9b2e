package reconciler.decisions.remediation_test

import rego.v1

import data.reconciler.decisions.remediation

scale := {"kind": "runbook", "target": "scale-web-service", "name": "runbook:scale-web-service"}

test_scaling_back_waits_for_an_operator_by_default if {
	remediation.score["runbook:scale-web-service"] == 0.75 with input as {"context": {"window": "business-hours"}, "options": [scale]}
}

test_scaling_back_is_trusted_more_in_a_maintenance_window if {
	remediation.score["runbook:scale-web-service"] == 0.9 with input as {"context": {"window": "maintenance:sunday"}, "options": [scale]}
}
