"""Desired state as typed records: YAML documents parsed, validated and collected per revision."""
