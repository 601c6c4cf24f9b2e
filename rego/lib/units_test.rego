package lib.units_test

import rego.v1

import data.lib.units

test_cpu if {
	units.cpu("500m") == 0.5
	units.cpu("2") == 2
	units.cpu("1.5") == 1.5
	units.cpu(2) == 2
	units.cpu("250m") < units.cpu("1")
	units.millicores("0.1") == 100
	units.millicores("250m") == 250
}

test_memory_binary if {
	units.memory("128Mi") == 134217728
	units.memory("1Gi") == 1073741824
	units.memory("2Ki") == 2048
}

test_memory_decimal if {
	units.memory("1G") == 1000000000
	units.memory("129M") == 129000000
	units.memory("1k") == 1000
	units.memory("128974848000m") == 128974848
}

test_memory_order if {
	units.memory("1Gi") > units.memory("1G")
	units.memory("512Mi") < units.memory("1Gi")
}

test_invalid if {
	not units.quantity("1GB")
	not units.quantity("lots")
	not units.quantity("")
	not units.is_valid("-1")
	units.is_valid("1")
}
