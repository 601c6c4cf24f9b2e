"""Decisions: choosing what to do about what the store records, by evaluating policy.

This layer sits above `reconcile` and below `optimize`: it may read the store and evaluate
policy, and nothing below it imports it (import-linter checks both). It holds no logic yet.
"""
