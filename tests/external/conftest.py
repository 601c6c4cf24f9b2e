"""The external corpus group: every test here reads `../shared/` (see tests/conftest.py)."""
