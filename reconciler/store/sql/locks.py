"""The names of what write transactions serialise on (see `sql.store`).

A backend that runs writers side by side (PostgreSQL) takes the named lock first in each
write transaction that carries one; SQLite, which has one writer at a time, needs none.
"""

from __future__ import annotations

OPTION = "reconciler_lock"
"""The execution option naming the lock a write transaction takes first (None: none)."""
SERIAL = "write"
"""The lock of writes that read what they then change in tables any writer may touch —
the audit chain's head, the decision log's current rows — and of batches (`batch()`),
whose joined writes may be any of those."""
