"""Runs: scheduling of reconcile, audit, workflow and runbook jobs, and their execution."""
