"""Persistent state of the daemon: revisions, per-object status, the decision log, runs, events.

`interfaces` holds the role protocols every backend implements and their records (runs'
records come from `reconciler.runstate`); `sql` the tables and queries any SQL backend
shares (`sql.store.SqlStore` over a SQLAlchemy Engine); `sqlite` the default backend, with
only what SQLite needs: the file, WAL and pragmas, and the migrations of older files.
"""
