"""Pure planning: diff desired against observed, ignore what is not drift, order the changes.

`diffs` (field-level differences and applying them), `ignore` (normalisation and ignore
rules), `order` (waves and dependencies) and `planner` (the `Plan`). No I/O, no clock.
"""
