"""Pull-request simulation: what a change from one revision to another would do.

`engine.simulate` compares two revisions of a repository and returns a `records.Report`:
spec problems introduced and fixed, Rego tests at the head, policies and bindings changed,
decisions that flip on the head's resources, the plan against the observed state, a replay
of the recorded decision log, workflow and runbook changes with what they would fire, and
policy conflicts introduced. Everything read from the head revision is loaded, compiled and
evaluated in a separate, resource-limited process (`sandbox`); the renderers turn the report
into a pull-request comment, JSON, JUnit XML, SARIF or a GitHub check run.
"""
