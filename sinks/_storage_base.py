"""What every engine behind the :class:`~tracestream.sinks.Storage` Protocol derives the same way.

Engines implement ``open``, ``close`` and ``query_arrow``; decoding rows
(:func:`~tracestream.sinks._sql.result_from_arrow`) and the context-manager
protocol are written once here so the engines cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self

from ._sql import result_from_arrow
from ._storage import QueryResult, SettingValue

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["ArrowStorage"]


class ArrowStorage:
    """Mixin for Storage engines whose native result is an Arrow table."""

    def open(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def query_arrow(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        settings: Mapping[str, SettingValue] | None = None,
    ) -> pa.Table:
        raise NotImplementedError

    def query(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        settings: Mapping[str, SettingValue] | None = None,
    ) -> QueryResult:
        """Run a SELECT and decode its Arrow result into rows (same values on every engine)."""
        return result_from_arrow(self.query_arrow(sql, params, settings=settings))

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
