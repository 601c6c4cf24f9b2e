"""Optimization: tuning what `decide` chooses, from outcomes recorded over time.

This layer sits above `decide` and below `simulate`; nothing below it imports it
(import-linter checks it). It holds no logic yet.
"""
