# Kubernetes resource quantities as numbers: CPU in cores ("500m" -> 0.5, "2" -> 2) and
# memory in bytes ("128Mi" -> 134217728, "1G" -> 1000000000). Policies import this as
# `data.lib.units`. Unknown suffixes (e.g. "1K", "1GB") leave the result undefined so a
# policy can report the quantity as invalid rather than guess.
package lib.units

import rego.v1

_multipliers := {
	"": 1,
	"k": 1000,
	"M": 1000000,
	"G": 1000000000,
	"T": 1000000000000,
	"P": 1000000000000000,
	"E": 1000000000000000000,
	"Ki": 1024,
	"Mi": 1048576,
	"Gi": 1073741824,
	"Ti": 1099511627776,
	"Pi": 1125899906842624,
	"Ei": 1152921504606846976,
}

# Sub-unit suffixes divide, which keeps "500m" exactly 0.5 instead of 500 * 0.001.
_divisors := {"n": 1000000000, "u": 1000000, "m": 1000}

_pattern := `^([0-9]+(?:\.[0-9]+)?|\.[0-9]+)([a-zA-Z]*)$`

# Any quantity as a number in base units; numbers pass through unchanged.
quantity(q) := q if is_number(q)

quantity(q) := to_number(parts[1]) * _multipliers[parts[2]] if {
	is_string(q)
	parts := regex.find_all_string_submatch_n(_pattern, q, 1)[0]
}

quantity(q) := to_number(parts[1]) / _divisors[parts[2]] if {
	is_string(q)
	parts := regex.find_all_string_submatch_n(_pattern, q, 1)[0]
}

# CPU in cores.
cpu(q) := quantity(q)

# CPU in whole millicores (what `kubectl top` prints).
millicores(q) := round(quantity(q) * 1000)

# Memory in bytes.
memory(q) := quantity(q)

is_valid(q) if quantity(q)
