"""Persistent state of the daemon: revisions, per-object status, the decision log, runs, events.

`base` holds the backend-neutral interface and its records; `sqlite` is the default backend
(SQLAlchemy Core over SQLite in WAL mode) and the only place, with `schema`, that knows SQL.
"""
