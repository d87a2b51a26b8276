"""Operator statements on a live engine: one ALTER, OPTIMIZE, SYSTEM or KILL at a time.

An operator of a ClickHouse server runs these with any client. In embedded
mode the sink owns the chDB directory (one process per directory), so the
only engine that can run them is the sink's own: ``tracestream admin "SQL"``
sends the statement to the owner's query server (``POST /command``), which
runs it through :func:`run_admin` on the storage the sink writes with. That
is how an operator raises ``parts_to_throw_insert`` on a table that throws
"Too many parts", stops merges for a while, or kills a mutation without
stopping the sink.

Only the statement kinds in :data:`ADMIN_STATEMENTS` run: the tables' shape
belongs to the migrations (``tracestream migrate``) and their rows to the
sink and ``tracestream replay``, so CREATE, DROP, INSERT, TRUNCATE and RENAME
are refused. The statement is parsed by ClickHouse itself (one statement,
normalised to one line; see :func:`~._readonly.normalize_readonly_sql`), and
its kind is read from that normalised text.
"""

from __future__ import annotations

from ._errors import StorageRejected
from ._readonly import normalize_readonly_sql
from ._storage import Storage

__all__ = ["ADMIN_STATEMENTS", "normalize_admin_sql", "run_admin"]

#: The first keyword of a statement ``run_admin`` accepts.
ADMIN_STATEMENTS = ("ALTER", "OPTIMIZE", "SYSTEM", "KILL")


def normalize_admin_sql(storage: Storage, sql: str) -> str:
    """Check that ``sql`` is one operator statement; return it normalised to one line.

    Blocks on the engine (one cheap parse query, run read-only).

    Raises:
        StorageRejected: not one statement, a syntax error, or a kind of
            statement outside :data:`ADMIN_STATEMENTS`.
        StorageUnavailable: the engine could not be reached.
    """
    normalized = normalize_readonly_sql(storage, sql)
    keyword = normalized.split(None, 1)[0].upper() if normalized.strip() else ""
    if keyword not in ADMIN_STATEMENTS:
        raise StorageRejected(
            f"{keyword or 'an empty'} statement refused: `tracestream admin` runs "
            f"{', '.join(ADMIN_STATEMENTS)} only (tables change through `tracestream migrate`, "
            "rows through the sink and `tracestream replay`)"
        )
    return normalized


def run_admin(storage: Storage, sql: str) -> str:
    """Run one operator statement on ``storage``; return the statement as run.

    Blocks until the engine answers (an ``OPTIMIZE ... FINAL`` may take long).
    Who may call it: the process that owns the storage (the sink's query
    server, on behalf of ``tracestream admin``), or one that opened it itself.

    Raises:
        StorageRejected: the statement was refused (see :func:`normalize_admin_sql`)
            or the engine rejected it.
        StorageUnavailable: the engine could not run it now.
    """
    normalized = normalize_admin_sql(storage, sql)
    storage.command(normalized)
    return normalized
