# How much this team trusts each remediation, as the daemon's decision rules read it
# (docs/decisions.md). `score` maps an option's name ("runbook:<name>" or
# "workflow:<name>") to a number in [0, 1]; the daemon combines it with the outcomes of the
# same option in similar contexts, and its confidence sets who must approve:
# below 0.70 an admin, from 0.70 an operator, from 0.85 nobody (with a notification), from
# 0.95 nobody. With no history, scaling back during business hours waits for an operator.
package reconciler.decisions.remediation

import rego.v1

score[option.name] := scale_back if {
	some option in input.options
	option.target == "scale-web-service"
}

scale_back := 0.9 if {
	startswith(input.context.window, "maintenance:")
} else := 0.75

reasons[option.name] contains "scaling back to the ceiling only undoes a manual change" if {
	some option in input.options
	option.target == "scale-web-service"
}
