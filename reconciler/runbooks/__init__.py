"""Runbooks: loading a repository's runbooks, their variables, the safety pack, validation,
the dry-run plan, generation from incident templates and reports rendered from a run's record.

A runbook runs on the workflow engine (`reconciler.run`): it is compiled to the engine's
plan there and executed like any workflow; this package holds what only runbooks have.
"""
