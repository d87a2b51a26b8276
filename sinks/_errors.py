"""Errors of the storage layer.

    TracestreamError                    (tracestream.schemas)
    └── StorageError                    ClickHouse/chDB refused or failed
        ├── StorageUnavailable          retriable: down, timeout, too many parts, locked data dir
        ├── StorageRejected             not retriable: the data itself is bad (parse, type,
        │   │                           constraint); a batch that fails this way is split to
        │   │                           find the poison rows
        │   └── StorageQueryError       not retriable: the SQL itself is wrong (syntax, unknown
        │                               identifier or table, bad parameter); splitting a batch
        │                               cannot help, so the sink does not split on it
        └── MigrationError              not retriable: a migration failed or an applied one
                                        was edited

``retriable`` is on the type: callers decide with ``exc.retriable``, never by
parsing messages. Errors we cannot classify are treated as retriable, because
for the sink that means "wait and keep everything", which is never wrong.
"""

from __future__ import annotations

from typing import ClassVar

from tracestream.schemas import TracestreamError

__all__ = [
    "MigrationError",
    "StorageError",
    "StorageQueryError",
    "StorageRejected",
    "StorageUnavailable",
]


class StorageError(TracestreamError):
    """ClickHouse or chDB refused or failed a call.

    Attributes:
        code: the ClickHouse error code when known (e.g. 469), else None.
        code_name: its name when known (``VIOLATED_CONSTRAINT``), else None.
    """

    retriable: ClassVar[bool] = True

    def __init__(
        self, message: str, *, code: int | None = None, code_name: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.code_name = code_name


class StorageUnavailable(StorageError):
    """The engine could not do the work now; the same call may succeed later."""

    retriable: ClassVar[bool] = True


class StorageRejected(StorageError):
    """The engine will never accept this data (bad value, type or constraint)."""

    retriable: ClassVar[bool] = False


class StorageQueryError(StorageRejected):
    """The statement itself is wrong (syntax, unknown identifier, bad parameter, ...).

    Not retriable, and not about any row: a batch insert failing this way fails
    for every row, so it must not be split into poison rows.
    """

    retriable: ClassVar[bool] = False


class MigrationError(StorageError):
    """A migration failed, or an applied migration's file changed since it ran."""

    retriable: ClassVar[bool] = False
